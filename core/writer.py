"""The batching writer: group commit for every append to one store.

Appenders from many tasks queue requests; one writer task takes up to ``max_batch`` events (waiting
up to ``max_delay`` seconds for a batch to fill) and commits them in one transaction off the trio
thread, because a commit costs about the same for one event as for a hundred.

With ``max_delay=0`` (the default) the writer commits as soon as it is idle and batches whatever
queued during the previous commit: a lone appender is not held back by a wait, and concurrent
appenders still share large commits because they queue while the previous one runs. A positive
``max_delay`` trades latency for fuller batches when commits are cheap relative to the arrival rate.
The SQLite figures behind both choices are in bench/results/README.md.

Each request's events are cut into runs (consecutive events of one stream, at most ``MAX_RUN``), and
the ``Log`` stores one row per run: an OCPP exchange is one row, not three, and the encode, the
committer's IPC and the INSERT are paid per row (bench/results/records.md). The writer hands out one
sequence and one position per event all the same.

Version checks run per request before the commit, against a cache of stream heads primed from the
log on first use, so one request's conflict fails only that request. If the commit itself hits a
sequence that is already stored (another process wrote to the same stream), the writer drops the
cached heads and retries the requests one by one. Any other failed commit fails every request of
the batch with ``CommitFailed`` and leaves the writer running for the next batch: nothing of it was
stored, unless the ``Log`` raised ``OutcomeUnknown`` (its committer was lost mid-commit), in which
case the error says the append may be stored and an appender that must know reads its stream.
Either way the cached heads of those streams are dropped. ``append`` returns after the commit.

Cancellation follows trio's rule "either it happened or you get Cancelled": a request still queued
is withdrawn; one already taken into a batch is waited for (shielded, a few ms) and reported.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import trio

from core.events import EventRecord, NewEvent, check_stream
from core.follow import CommitSignal, RecentCommits
from core.store import CommitFailed, ConcurrencyConflict, StoreClosed

__all__ = [
    "MAX_RUN",
    "BatchingWriter",
    "Log",
    "OutcomeUnknown",
    "Row",
    "SequenceTaken",
    "WriterStats",
    "runs",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

# The most events one row holds. An exchange is a handful; the cap keeps an import of a long stream
# (consecutive events of one station) from making rows that every read of one event decodes whole.
MAX_RUN = 16

Row = tuple[Sequence[NewEvent], int, bytes]
"""One row to commit: a run of events of one stream, the sequence of its first event, its state."""


def runs(events: Sequence[NewEvent]) -> list[Sequence[NewEvent]]:
    """``events`` cut into runs: consecutive events of one stream, at most ``MAX_RUN`` each."""
    cut: list[Sequence[NewEvent]] = []
    start = 0
    for i in range(1, len(events) + 1):
        if i == len(events) or events[i].stream != events[start].stream or i - start == MAX_RUN:
            cut.append(events[start:i])
            start = i
    return cut


# How often a request is retried alone when another writer keeps taking its sequences.
_ALONE_ATTEMPTS = 3


class SequenceTaken(Exception):
    """Raised by a ``Log`` when a commit hits a (stream, sequence) that is already stored."""


class OutcomeUnknown(Exception):
    """Raised by a ``Log`` when a commit was interrupted and may or may not have been stored."""


class Log(Protocol):
    """What the writer needs from a backend; ``stream_version`` blocks and is called through ``run``."""

    async def run(self, fn: Callable[[], T]) -> T: ...

    def encode(self, events: Sequence[NewEvent]) -> bytes:
        """The stored state of one run."""
        ...

    def stream_version(self, stream: str) -> int: ...

    async def commit(self, rows: Sequence[Row]) -> list[int]:
        """Store ``(run, first sequence, encoded state)`` rows in one transaction; the position of
        each row's last event (the run's events have the positions just below it).

        Raises ``SequenceTaken`` if a (stream, sequence) is already stored, nothing stored;
        ``OutcomeUnknown`` if the commit was interrupted and may have been stored.
        """
        ...


@dataclass
class WriterStats:
    """Counters an exporter reads; ``commit_seconds`` is wall time spent in successful commits."""

    batches: int = 0
    events: int = 0
    last_batch_size: int = 0
    commit_seconds: float = 0.0
    conflicts: int = 0
    failed_commits: int = 0
    rows: int = 0
    """Rows stored: one per run of events of one stream in one append."""


@dataclass(eq=False)
class _Request:
    events: Sequence[NewEvent]
    runs: list[tuple[Sequence[NewEvent], bytes]]
    expected: Mapping[str, int]
    done: trio.Event = field(default_factory=trio.Event)
    taken: bool = False
    abandoned: bool = False
    records: list[EventRecord] = field(default_factory=list)
    error: Exception | None = None

    def streams(self) -> set[str]:
        return {event.stream for event in self.events} | set(self.expected)


class BatchingWriter:
    """One per store. Start :meth:`run` in a nursery; call :meth:`append` from any task."""

    def __init__(
        self,
        log: Log,
        *,
        max_batch: int = 1000,
        max_delay: float = 0.0,
        max_pending: int = 10_000,
        on_commit: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_delay < 0 or max_pending < 1:
            raise ValueError(
                f"need max_batch >= 1, max_delay >= 0, max_pending >= 1; got "
                f"{max_batch}, {max_delay}, {max_pending}"
            )
        self._log = log
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._slots = trio.Semaphore(max_pending)
        self._queue: deque[_Request] = deque()
        self._inflight: list[_Request] = []
        self._queued_events = 0
        self._wake = trio.Event()
        self._heads: dict[str, int] = {}
        self._closed = False
        self.stats = WriterStats()
        self.on_commit = on_commit
        """Called after each commit with (events in the batch, commit seconds)."""
        self.committed = CommitSignal()
        self.recent = RecentCommits()
        """The last records committed here, for in-process followers."""

    async def append(
        self, events: Sequence[NewEvent], expected: Mapping[str, int] | None = None
    ) -> list[EventRecord]:
        """Queue ``events`` as one atomic request and return their records once committed."""
        if self._closed:
            raise StoreClosed("the event store is closed")
        events = list(events)
        for event in events:
            if not isinstance(event, NewEvent):
                raise TypeError(f"append takes NewEvent objects, got {type(event).__qualname__}")
        expected = dict(expected or {})
        for stream, version in expected.items():
            check_stream(stream)
            if not isinstance(version, int) or version < 0:
                raise ValueError(f"expected version of {stream!r} must be an int >= 0, got {version!r}")
        if not events:
            await trio.lowlevel.checkpoint()
            return []
        # Encode in the appender's task: a payload the codec refuses fails this caller only.
        request = _Request(events, [(run, self._log.encode(run)) for run in runs(events)], expected)
        # A free slot is taken without the semaphore's own schedule point: waiting for the commit
        # below is one already (one trio scheduling pass fewer per append).
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            await self._slots.acquire()
        try:
            self._enqueue(request)
            try:
                await request.done.wait()
            except trio.Cancelled:
                if not request.taken:
                    request.abandoned = True
                    raise
                with trio.CancelScope(shield=True):
                    await request.done.wait()
        finally:
            self._slots.release()
        if request.error is not None:
            raise request.error
        return request.records

    def _enqueue(self, request: _Request) -> None:
        if self._closed:
            raise StoreClosed("the event store is closed")
        was_empty = not self._queue
        self._queue.append(request)
        self._queued_events += len(request.events)
        if was_empty or self._queued_events >= self._max_batch:
            self._wake.set()

    def forget(self, stream: str) -> None:
        """Drop the cached head of ``stream``: another process appended to it (a node of a shared
        store took over the stream's station), so the next append primes it from the log."""
        self._heads.pop(stream, None)

    def close(self) -> None:
        """Take no more appends; :meth:`run` commits what is queued, then returns."""
        self._closed = True
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer task: batch, check, commit, repeat until closed and drained."""
        task_status.started()
        try:
            while True:
                while not self._queue:
                    if self._closed:
                        return
                    self._wake = trio.Event()
                    await self._wake.wait()
                if self._max_delay > 0 and not self._closed and self._queued_events < self._max_batch:
                    with trio.move_on_after(self._max_delay):
                        self._wake = trio.Event()
                        await self._wake.wait()
                self._inflight = self._take_batch()
                if self._inflight:
                    await self._commit(self._inflight)
                self._inflight = []
        finally:
            # Cancelled or crashed: nobody may wait forever for a commit that will not come.
            self._closed = True
            for request in [*self._inflight, *self._queue]:
                if not request.done.is_set():
                    self._finish(
                        request, StoreClosed("the event store closed before this append was committed")
                    )
            self._queue.clear()

    def _take_batch(self) -> list[_Request]:
        batch: list[_Request] = []
        size = 0
        while self._queue:
            request = self._queue[0]
            if batch and size + len(request.events) > self._max_batch:
                break
            self._queue.popleft()
            self._queued_events -= len(request.events)
            if request.abandoned:
                continue
            request.taken = True
            batch.append(request)
            size += len(request.events)
        return batch

    async def _prime(self, streams: set[str]) -> None:
        missing = [stream for stream in streams if stream not in self._heads]
        if missing:
            heads = await self._log.run(lambda: {s: self._log.stream_version(s) for s in missing})
            self._heads.update(heads)

    def _assign(self, request: _Request, heads: dict[str, int]) -> list[Row] | None:
        """Check ``request`` against ``heads`` and give its runs sequences; None on a conflict."""
        for stream, version in request.expected.items():
            actual = heads.get(stream, self._heads[stream])
            if actual != version:
                self.stats.conflicts += 1
                self._finish(request, ConcurrencyConflict(stream, version, actual))
                return None
        rows: list[Row] = []
        for run, state in request.runs:
            stream = run[0].stream
            sequence = heads.get(stream, self._heads[stream]) + 1
            heads[stream] = sequence + len(run) - 1
            rows.append((run, sequence, state))
        return rows

    async def _commit(self, batch: list[_Request]) -> None:
        try:
            await self._prime(set().union(*(request.streams() for request in batch)))
        except Exception as e:
            self._fail(batch, e)
            return
        heads: dict[str, int] = {}
        accepted: list[tuple[_Request, list[Row]]] = []
        conflicts: list[str] = []
        for request in batch:
            tentative = dict(heads)
            rows = self._assign(request, tentative)
            if rows is not None:
                heads = tentative
                accepted.append((request, rows))
            elif isinstance(request.error, ConcurrencyConflict):
                conflicts.append(request.error.stream)
        # A conflict's cached head may be what is stale (another process appended): read it next time.
        for stream in conflicts:
            self._heads.pop(stream, None)
        if not accepted:
            return
        try:
            positions = await self._insert([row for _, rows in accepted for row in rows])
        except SequenceTaken:
            for request, _ in accepted:
                for stream in request.streams():
                    self._heads.pop(stream, None)
            for request, _ in accepted:
                await self._commit_alone(request)
            return
        except Exception as e:
            self._fail([request for request, _ in accepted], e)
            return
        self._heads.update(heads)
        it = iter(positions)
        committed: list[EventRecord] = []
        for request, rows in accepted:
            records = [record for row in rows for record in _records(row, next(it))]
            committed.extend(records)
            self._finish(request, records=records)
        committed.sort(key=lambda record: record.position)
        self.recent.add(committed)
        self.committed.pulse()

    async def _commit_alone(self, request: _Request) -> None:
        """Retry one request by itself with fresh heads, after a batch hit another writer's rows."""
        for _ in range(_ALONE_ATTEMPTS):
            try:
                await self._prime(request.streams())
            except Exception as e:
                self._fail([request], e)
                return
            heads: dict[str, int] = {}
            rows = self._assign(request, heads)
            if rows is None:
                return
            try:
                positions = await self._insert(rows)
            except SequenceTaken:
                for stream in request.streams():
                    self._heads.pop(stream, None)
                continue
            except Exception as e:
                self._fail([request], e)
                return
            self._heads.update(heads)
            records = [
                record for row, last in zip(rows, positions, strict=True) for record in _records(row, last)
            ]
            self._finish(request, records=records)
            self.recent.add(records)
            self.committed.pulse()
            return
        self._fail([request], SequenceTaken(f"another writer took the sequences {_ALONE_ATTEMPTS} times"))

    async def _insert(self, rows: list[Row]) -> list[int]:
        started = time.perf_counter()
        positions = await self._log.commit(rows)
        seconds = time.perf_counter() - started
        events = sum(len(run) for run, _, _ in rows)
        self.stats.batches += 1
        self.stats.events += events
        self.stats.rows += len(rows)
        self.stats.last_batch_size = events
        self.stats.commit_seconds += seconds
        if self.on_commit is not None:
            try:
                self.on_commit(events, seconds)
            except Exception:
                log.exception("on_commit hook failed; the commit itself succeeded")
        return positions

    def _fail(self, requests: list[_Request], cause: Exception) -> None:
        self.stats.failed_commits += 1
        for request in requests:
            for stream in request.streams():
                self._heads.pop(stream, None)
            stored = "it may be stored" if isinstance(cause, OutcomeUnknown) else "nothing of it was stored"
            error = CommitFailed(f"commit of this append failed, {stored}: {type(cause).__name__}: {cause}")
            error.__cause__ = cause
            self._finish(request, error)

    @staticmethod
    def _finish(
        request: _Request, error: Exception | None = None, records: list[EventRecord] | None = None
    ) -> None:
        request.error = error
        request.records = records or []
        request.done.set()


def _records(row: Row, last: int) -> list[EventRecord]:
    """The committed records of one row whose last event got position ``last``."""
    run, sequence, _ = row
    first = last - len(run) + 1
    return [
        EventRecord(e.stream, sequence + i, first + i, e.type, e.time, e.data, e.decoded)
        for i, e in enumerate(run)
    ]
