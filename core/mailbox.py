"""Bounded mailboxes with a declared overflow policy.

Every actor reads from exactly one :class:`Mailbox`. It is a deque guarded by two trio parking lots
rather than a memory channel because the drop-oldest policy needs to evict from the queue's head,
which a channel's send side cannot do. The mailbox outlives restarts of its actor: messages queued
behind the one that crashed the actor are handled by the restarted instance.

A supervisor asks an actor to stop gracefully with :meth:`Mailbox.interrupt`: the actor finishes
the message in hand, and its next :meth:`Mailbox.get` raises :class:`Interrupted` instead of
handing it another one. Messages still queued stay for the next incarnation.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

from core.dead_letters import DeadLetters, Reason

M = TypeVar("M")


class Overflow(enum.Enum):
    """What a full mailbox does with one more message."""

    BLOCK = "block"  # the sender waits (backpressure); try_send returns False
    DROP_OLDEST = "drop_oldest"  # the oldest queued message becomes a dead letter
    DEAD_LETTER = "dead_letter"  # the new message becomes a dead letter


class MailboxClosed(Exception):
    """The mailbox's actor has stopped for good."""


class Interrupted(Exception):
    """The actor has been asked to stop (a graceful shutdown); let it end ``run``."""


class Mailbox(Generic[M]):
    """A bounded FIFO of messages for one actor."""

    def __init__(
        self,
        capacity: int,
        overflow: Overflow,
        *,
        kind: str,
        name: str,
        dead_letters: DeadLetters,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"mailbox capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.overflow = overflow
        self.kind = kind
        self.name = name
        self._dead_letters = dead_letters
        # Made with the first message: a deque allocates a 64-slot block (~760 bytes) at once, and some
        # mailboxes are never written to (each station's supervisor has one only to be interrupted).
        self._queue: deque[M] | None = None
        self._readers = trio.lowlevel.ParkingLot()
        self._writers = trio.lowlevel.ParkingLot()
        self._closed = False
        self._interrupted = False
        self.on_interrupt: Callable[[], None] | None = None  # for a reader that is not parked in get

    @property
    def depth(self) -> int:
        """Messages waiting to be handled."""
        return len(self._queue) if self._queue is not None else 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def interrupt(self) -> None:
        """Ask the reader to stop: its next :meth:`get` raises :class:`Interrupted`."""
        self._interrupted = True
        self._readers.unpark_all()
        if self.on_interrupt is not None:
            self.on_interrupt()

    def resume(self) -> None:
        """Clear an interrupt, for the next incarnation of the actor."""
        self._interrupted = False

    def _enqueue(self, message: M) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(message)
        self._readers.unpark()

    def put_nowait(self, message: M) -> bool:
        """Deliver without waiting; True when the message was queued.

        When it was not, it was either dead-lettered (closed mailbox, dead-letter policy) or, under the
        block policy, handed back to the caller (False, nothing recorded): the caller still holds it.
        """
        if self._closed:
            self._dead_letters.post(self.kind, self.name, Reason.STOPPED, message)
            return False
        queue = self._queue
        if queue is None or len(queue) < self.capacity:
            self._enqueue(message)
            return True
        if self.overflow is Overflow.DROP_OLDEST:
            evicted = queue.popleft()
            self._dead_letters.post(self.kind, self.name, Reason.DROPPED, evicted)
            self._enqueue(message)
            return True
        if self.overflow is Overflow.DEAD_LETTER:
            self._dead_letters.post(self.kind, self.name, Reason.FULL, message)
        return False

    async def put(self, message: M, *, schedule_point: bool = True) -> bool:
        """Deliver, waiting for room under the block policy; True when the message was queued.

        ``schedule_point=False`` skips the yield to other tasks that ``put`` makes otherwise (it is
        still a cancellation point, and still waits for room): for a caller that has just yielded,
        such as an actor telling others what it has just committed.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while self.overflow is Overflow.BLOCK and not self._closed and self.depth >= self.capacity:
            await self._writers.park()
        queued = self.put_nowait(message)
        if schedule_point:
            await trio.lowlevel.cancel_shielded_checkpoint()
        return queued

    async def get(self) -> M:
        """The next message, waiting for one.

        Raises :class:`Interrupted` once interrupted (before any queued message) and
        :class:`MailboxClosed` once closed and drained.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while self._interrupted or not self._queue:
            if self._interrupted:
                raise Interrupted(f"{self.kind} {self.name} was asked to stop")
            if self._closed:
                raise MailboxClosed(f"{self.kind} {self.name} has stopped")
            await self._readers.park()
        assert self._queue is not None  # not empty, so made
        message = self._queue.popleft()
        self._writers.unpark()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return message

    def close(self) -> None:
        """Stop accepting messages; everything still queued becomes a dead letter."""
        self._closed = True
        while self._queue:
            self._dead_letters.post(self.kind, self.name, Reason.STOPPED, self._queue.popleft())
        self._readers.unpark_all()
        self._writers.unpark_all()
