"""A station's queue of commands waiting for the one-in-flight slot.

Bounded, first in first out, with one domain rule: a queued SetChargingProfile is superseded by
a newer one for the same connector, stack level and purpose (the station would only overwrite it),
so a load-management loop cannot pile up stale limits behind a slow station.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from actors.commands import Command, OutboxFull, coalesce_key
from core.actor import Reply


@dataclass(slots=True)
class Pending:
    """A command and the reply slot of whoever asked for it."""

    command: Command
    reply: Reply[dict[str, Any]]


class Outbox:
    """Commands waiting to be sent, oldest first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._queue: deque[Pending] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, pending: Pending) -> Pending | None:
        """Queue ``pending``; return the queued command it superseded, if any.

        Raises :class:`OutboxFull` when nothing can be superseded and the queue is full.
        """
        key = coalesce_key(pending.command)
        if key is not None:
            for i, queued in enumerate(self._queue):
                if coalesce_key(queued.command) == key:
                    self._queue[i] = pending
                    return queued
        if len(self._queue) >= self.capacity:
            raise OutboxFull(f"{len(self._queue)} commands already queued")
        self._queue.append(pending)
        return None

    def pop(self) -> Pending | None:
        return self._queue.popleft() if self._queue else None

    def drain(self) -> list[Pending]:
        out = list(self._queue)
        self._queue.clear()
        return out
