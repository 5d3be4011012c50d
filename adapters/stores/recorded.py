"""``RecordedStore``: the ``EventStore`` over a ``RecordedLog``, its batching writer and followers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import trio
from eventsourcing.persistence import PersistenceError

from adapters.stores.recording import RecordedLog
from core.events import EventRecord, NewEvent, check_stream
from core.follow import Follower
from core.store import CommitFailed, ReadFailed
from core.writer import BatchingWriter, WriterStats
from projections.transactions import TransactionQuery

__all__ = ["RecordedStore"]

T = TypeVar("T")

# Worker threads that reads may hold at once. Commits gate every acknowledgement (the durability
# rule), and reader threads compete with the commit thread for the GIL: capping reads at 4 threads
# cut total commit time several times over for a small loss of read throughput (figures in
# bench/results/README.md). The writer does not take from this limiter.
READERS = 4


def _check_after(after: int) -> None:
    if not isinstance(after, int) or after < 0:
        raise ValueError(f"'after' must be an int >= 0, got {after!r}")


class RecordedStore:
    """An ``EventStore``, ``SnapshotStore`` and ``TransactionIndexStore``.

    Appends go through ``writer`` (run it in a nursery); reads, snapshots and the index go to the log.
    """

    def __init__(self, log: RecordedLog, *, max_batch: int, max_delay: float) -> None:
        self.log = log
        self._readers = trio.CapacityLimiter(READERS)
        self.writer = BatchingWriter(log, max_batch=max_batch, max_delay=max_delay)

    async def _read(self, fn: Callable[[], T]) -> T:
        """Run a read in a worker thread; a store that cannot be reached is ``ReadFailed``."""
        try:
            return await self.log.run(fn, self._readers)
        except PersistenceError as error:
            raise ReadFailed(f"cannot read the event store at {self.log.location}: {error}") from error

    async def _write(self, fn: Callable[[], None]) -> None:
        """Write a side table (snapshots, the transaction index); unreachable: ``CommitFailed``."""
        try:
            await self.log.run(fn)
        except PersistenceError as error:
            raise CommitFailed(f"cannot write to the event store at {self.log.location}: {error}") from error

    @property
    def stats(self) -> WriterStats:
        """Group-commit counters for an exporter; set ``writer.on_commit`` for a per-commit hook."""
        return self.writer.stats

    async def append(
        self, events: Sequence[NewEvent], expected: Mapping[str, int] | None = None
    ) -> list[EventRecord]:
        fence = self.log.fence
        if fence is not None:  # several nodes share the store: only a station's owner appends to it
            fence.check({event.stream for event in events})
        return await self.writer.append(events, expected)

    async def read_stream(self, stream: str, after: int = 0, limit: int | None = None) -> list[EventRecord]:
        check_stream(stream)
        _check_after(after)
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 or None, got {limit!r}")
        return await self._read(lambda: self.log.read_stream(stream, after, limit))

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[EventRecord]:
        _check_after(after)
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit!r}")
        return await self._read(lambda: self.log.read_all(after, limit))

    def follow(self, after: int = 0) -> Follower:
        _check_after(after)
        return Follower(
            self.read_all,
            self.writer.committed,
            after=after,
            poll_interval=self.log.poll_interval,
            recent=self.writer.recent,
        )

    async def head(self) -> int:
        return await self._read(self.log.head)

    async def load_snapshot(self, key: str) -> bytes | None:
        return await self._read(lambda: self.log.side.load(key))

    async def save_snapshot(self, key: str, blob: bytes) -> None:
        await self._write(lambda: self.log.side.save(key, blob))

    async def transactions_position(self) -> int:
        return await self._read(self.log.side.position)

    async def apply_transactions(self, rows: Sequence[Mapping[str, Any]], position: int) -> None:
        await self._write(lambda: self.log.side.apply(rows, position))

    async def get_transaction(self, transaction_id: int | str) -> Mapping[str, Any] | None:
        return await self._read(lambda: self.log.side.get(transaction_id))

    async def find_transactions(self, query: TransactionQuery) -> list[Mapping[str, Any]]:
        return list(await self._read(lambda: self.log.side.find(query)))

    async def stream_version(self, stream: str) -> int:
        check_stream(stream)
        return await self._read(lambda: self.log.stream_version(stream))
