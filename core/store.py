"""The event-store port: the ``EventStore`` protocol and its errors.

Everything above ``core`` talks to the log through this protocol only; the backend (in-memory,
SQLite, later PostgreSQL) is picked from a URL at the composition root. The contract every backend
passes is tests/core/test_store_conformance.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.events import EventRecord, NewEvent

if TYPE_CHECKING:  # core.follow raises this module's ReadFailed
    from core.follow import Follower

__all__ = [
    "BadStoreUrl",
    "CommitFailed",
    "ConcurrencyConflict",
    "CorruptEvent",
    "EventStore",
    "NotOwner",
    "ReadFailed",
    "SnapshotStore",
    "StoreClosed",
    "StoreError",
    "StoreUnavailable",
]


class StoreError(Exception):
    """Base of the errors the event store raises on purpose."""


class ConcurrencyConflict(StoreError):
    """A stream was not at the version the appender expected; nothing of its batch was appended."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream!r} is at version {actual}, expected {expected}: batch not appended")
        self.stream = stream
        self.expected = expected
        self.actual = actual


class CorruptEvent(StoreError):
    """A stored payload does not decode; the log is damaged at ``position``."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"stored event at position {position} does not decode: {reason}")
        self.position = position


class BadStoreUrl(StoreError, ValueError):
    """A store URL names no backend, or has options its backend does not take; nothing was opened."""


class StoreUnavailable(StoreError):
    """The store cannot be opened (unwritable directory, locked or garbage file, ...)."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"cannot open event store at {location}: {reason}")
        self.location = location


class ReadFailed(StoreError):
    """A read could not reach the store (its connection lost, none to be had); nothing changed, and
    the same read may succeed once the store is back."""


class CommitFailed(StoreError):
    """The commit of a batch failed for a reason other than a version conflict.

    Nothing was appended, unless the message says the append may be stored (the commit was
    interrupted, as by a lost committer process): then only reading the stream tells.
    """


class NotOwner(CommitFailed):
    """This node does not hold the lease of the stream's station (another node of a shared store
    owns it, or took it over); nothing was appended."""


class StoreClosed(StoreError):
    """The store was closed; it takes no more appends."""


class EventStore(Protocol):
    """An append-only log of events in streams, with one global commit order."""

    async def append(
        self, events: Sequence[NewEvent], expected: Mapping[str, int] | None = None
    ) -> list[EventRecord]:
        """Append ``events`` atomically and return them as committed records.

        ``expected[stream]`` is the version (last sequence) the caller believes the stream is at,
        0 for a stream that must be new; a stale expectation raises ``ConcurrencyConflict`` and
        appends nothing of the batch. Returns only after the commit is durable.
        """
        ...

    async def read_stream(self, stream: str, after: int = 0, limit: int | None = None) -> list[EventRecord]:
        """Events of one stream with sequence greater than ``after``, in sequence order."""
        ...

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[EventRecord]:
        """Up to ``limit`` events with position greater than ``after``, in position order."""
        ...

    def follow(self, after: int = 0) -> Follower:
        """Every event after position ``after``, each exactly once and in order: catch up, then live.

        Iterate it record by record, or take what is at hand with ``next_batch``.
        """
        ...

    async def head(self) -> int:
        """The last committed global position (0 for an empty store)."""
        ...

    async def stream_version(self, stream: str) -> int:
        """The last sequence of ``stream`` (0 if it has no events)."""
        ...


@runtime_checkable
class SnapshotStore(Protocol):
    """Saved state beside the log, by key: projection checkpoints, actor snapshots.

    Kept in the same store as the events (a table in the SQLite file, a dict in ``memory://``), so a
    copy or backup of the store carries its snapshots and cannot pair them with another log. A
    snapshot only saves work: losing one, or finding it foreign, costs a refold from the log.
    """

    async def load_snapshot(self, key: str) -> bytes | None:
        """The blob last saved under ``key``, or None."""
        ...

    async def save_snapshot(self, key: str, blob: bytes) -> None:
        """Replace the blob under ``key`` atomically (durable when this returns)."""
        ...
