"""A station's queue of commands waiting for the one-in-flight slot.

Bounded in commands and in bytes of payload (a station that stops reading must not make the server
hold unbounded memory for it), first in first out, with one domain rule: a queued SetChargingProfile
is superseded by a newer one for the same connector, stack level and purpose (the station would only
overwrite it), so a load-management loop cannot pile up stale limits behind a slow station.

Each command carries ``send_by``, the monotonic time after which its caller will have given up
waiting: the station actor never sends a command past it (never both a timeout for the operator
and a later send).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from actors.commands import Command, OutboxFull, coalesce_key
from core.actor import Reply


@dataclass(slots=True)
class Pending:
    """A command and the reply slot of whoever asked for it."""

    command: Command
    reply: Reply[dict[str, Any]]
    send_by: float | None = None  # monotonic; None: no deadline
    size: int = field(init=False)
    """Bytes of the command as it will go on the wire (action and payload), for the byte budget."""

    def __post_init__(self) -> None:
        self.size = len(self.command.action) + len(
            json.dumps(self.command.payload, separators=(",", ":"), ensure_ascii=False).encode()
        )

    def expired(self, now: float) -> bool:
        """True once its caller has given up (it must not be sent any more)."""
        return self.send_by is not None and now >= self.send_by


class Outbox:
    """Commands waiting to be sent, oldest first."""

    def __init__(self, capacity: int, max_bytes: int | None = None) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.bytes = 0
        """Bytes of the commands queued now."""
        # A list: at most ``capacity`` (a few dozen) long, and empty at almost every idle station, where a
        # deque would hold its first 64-slot block (~760 bytes) all the same.
        self._queue: list[Pending] = []

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, pending: Pending) -> Pending | None:
        """Queue ``pending``; return the queued command it superseded, if any.

        Raises :class:`OutboxFull` when nothing can be superseded and the queue is full, in commands
        or in bytes.
        """
        key = coalesce_key(pending.command)
        index = None
        if key is not None:
            index = next((i for i, q in enumerate(self._queue) if coalesce_key(q.command) == key), None)
        replaced = self._queue[index].size if index is not None else 0
        if self.max_bytes is not None and self.bytes - replaced + pending.size > self.max_bytes:
            raise OutboxFull(
                f"{self.bytes} bytes already queued; {pending.command.action} of {pending.size} bytes "
                f"would exceed this station's outbox budget of {self.max_bytes} bytes"
            )
        if index is not None:
            queued = self._queue[index]
            self._queue[index] = pending
            self.bytes += pending.size - queued.size
            return queued
        if len(self._queue) >= self.capacity:
            raise OutboxFull(f"{len(self._queue)} commands already queued")
        self._queue.append(pending)
        self.bytes += pending.size
        return None

    def pop(self) -> Pending | None:
        if not self._queue:
            return None
        pending = self._queue.pop(0)
        self.bytes -= pending.size
        return pending

    def drain(self) -> list[Pending]:
        out = list(self._queue)
        self._queue.clear()
        self.bytes = 0
        return out
