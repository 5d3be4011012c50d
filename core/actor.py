"""Actor references, one-shot replies and the actor base class.

An :class:`ActorRef` is the only handle on an actor: it wraps the actor's mailbox, so holders can
send but never reach into the actor's state. A reference stays valid across restarts of the actor
it names, because the supervisor keeps the mailbox and only replaces the instance reading it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

from core.dead_letters import DeadLetters, Reason
from core.mailbox import Mailbox

M = TypeVar("M")
T = TypeVar("T")


class ActorStopped(Exception):
    """The actor asked has stopped for good."""


class ActorBusy(Exception):
    """The actor's mailbox was full and its policy refused the question (it became a dead letter)."""


class AskTimeout(trio.TooSlowError):
    """No reply arrived in time; the question (if delivered) may still be handled later."""


class Reply(Generic[T]):
    """A one-shot reply slot carried inside an ``ask`` message.

    The actor answers with :meth:`send` or :meth:`fail`, synchronously and at most once. An answer
    after the asker gave up, or a second answer, becomes a dead letter instead of vanishing.
    """

    __slots__ = ("_abandoned", "_dead_letters", "_done", "_error", "_kind", "_name", "_value")

    def __init__(self, dead_letters: DeadLetters, kind: str, name: str) -> None:
        self._dead_letters = dead_letters
        self._kind = kind
        self._name = name
        self._done = trio.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._abandoned = False

    def send(self, value: T) -> None:
        """Answer the question."""
        if self._done.is_set() or self._abandoned:
            self._dead_letters.post(self._kind, self._name, Reason.LATE_REPLY, value)
            return
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        """Answer with an error, raised in the asker."""
        if self._done.is_set() or self._abandoned:
            self._dead_letters.post(self._kind, self._name, Reason.LATE_REPLY, error)
            return
        self._error = error
        self._done.set()

    @property
    def answered(self) -> bool:
        return self._done.is_set()

    @property
    def pending(self) -> bool:
        """Whether an answer would still reach the asker (not answered, not given up on)."""
        return not self._done.is_set() and not self._abandoned

    def _abandon(self) -> None:
        self._abandoned = True

    async def _wait(self) -> T:
        """The answer, handed over once: the slot lets go of it, and of an error's traceback.

        An error raised here gains this frame in its traceback; kept in ``_error`` it would keep
        that chain (and the frames' locals, a 900 KB payload among them) alive as long as anything
        holds the Reply, a dead letter or a queued message for instance.
        """
        await self._done.wait()
        error, self._error = self._error, None
        value, self._value = self._value, None
        if error is not None:
            try:
                raise error
            finally:
                del error  # this frame is in the traceback: do not keep the error from it
        return value  # type: ignore[return-value]


class ActorRef(Generic[M]):
    """Send messages of type ``M`` to one actor."""

    __slots__ = ("_dead_letters", "_mailbox")

    def __init__(self, mailbox: Mailbox[M], dead_letters: DeadLetters) -> None:
        self._mailbox = mailbox
        self._dead_letters = dead_letters

    @property
    def kind(self) -> str:
        return self._mailbox.kind

    @property
    def name(self) -> str:
        return self._mailbox.name

    @property
    def alive(self) -> bool:
        """False once the actor has stopped for good."""
        return not self._mailbox.closed

    @property
    def depth(self) -> int:
        return self._mailbox.depth

    async def send(self, message: M, *, schedule_point: bool = True) -> None:
        """Deliver, waiting while a block-policy mailbox is full (backpressure).

        Under the other policies this never waits; an undeliverable message becomes a dead letter.
        ``schedule_point=False``: see :meth:`Mailbox.put`.
        """
        await self._mailbox.put(message, schedule_point=schedule_point)

    def try_send(self, message: M) -> bool:
        """Deliver without waiting; False when the message was not queued (see Mailbox.put_nowait)."""
        return self._mailbox.put_nowait(message)

    # The timeout is part of the question (docs/design.md: `ask` waits for a reply within a timeout),
    # hence the noqa.
    async def ask(self, make: Callable[[Reply[T]], M], timeout: float) -> T:  # noqa: ASYNC109
        """Send ``make(reply)`` and wait for the actor to answer through ``reply``.

        ``timeout`` covers both waiting for mailbox room and waiting for the answer. Raises
        :class:`AskTimeout` when it runs out, :class:`ActorStopped` when the actor is gone and
        :class:`ActorBusy` when a full dead-letter-policy mailbox refused the question.
        """
        if self._mailbox.closed:
            await trio.lowlevel.checkpoint()
            raise ActorStopped(f"{self.kind} {self.name} has stopped")
        reply: Reply[T] = Reply(self._dead_letters, self.kind, self.name)
        message = make(reply)
        with trio.move_on_after(timeout if timeout >= 0 else math.inf) as scope:
            if not await self._mailbox.put(message):
                if self._mailbox.closed:
                    raise ActorStopped(f"{self.kind} {self.name} has stopped")
                raise ActorBusy(f"{self.kind} {self.name} is full; {type(message).__name__} dead-lettered")
            return await reply._wait()
        reply._abandon()
        assert scope.cancelled_caught
        raise AskTimeout(
            f"{self.kind} {self.name} did not answer {type(message).__name__} within {timeout} s"
        )

    def __repr__(self) -> str:
        return f"ActorRef({self.kind}/{self.name})"


class Actor(Generic[M]):
    """Base class for actors: override :meth:`receive`, and :meth:`started` to rebuild state.

    The default :meth:`run` handles one message at a time, in order. Actors that need tasks of their
    own (a connection reader, a poll timer) override :meth:`run` and open a nursery there; everything
    they start is cancelled with them.
    """

    async def started(self) -> None:
        """Called before the first message of every incarnation: rebuild state from the log here."""

    async def receive(self, message: M) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not handle messages")

    async def run(self, inbox: Mailbox[M]) -> None:
        await self.started()
        while True:
            await self.receive(await inbox.get())
