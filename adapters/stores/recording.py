"""Plumbing every backend shares: the mapper, the recorder a backend must supply, and the log.

The ``eventsourcing`` library stores ``StoredEvent`` rows (originator id, version, topic, state) and
numbers them in one application sequence (notification ids). chargeward maps onto that, one row per
*run*: the consecutive events of one append that belong to one stream (at most
``core.writer.MAX_RUN``), so an
OCPP exchange (frame in, decided events, frame out) is one row, not three:

- originator id = uuid5(fixed namespace, stream);
- originator version = the sequence of the run's *first* event, so two writers that both think a
  stream is at the same version collide on the library's (originator id, version) key as before;
- notification id = the global position of the run's *last* event; the run's events have the
  positions just below it, which no other row takes (rows are inserted at the head plus their size);
- a run of one event (every row written before runs existed): topic = event type, state = msgpack of
  ``{stream, time, data}``; a longer run: topic = its event types joined by ``,`` (for people reading
  the table; never parsed), state = msgpack of ``{stream, time, events: [[type, data] or [type,
  data, time], ...]}``, the time given only where it differs from the run's.

Reads expand rows back into one ``EventRecord`` per event, so nothing above the store sees runs.

``RecordedLog`` wraps one recorder with blocking methods (insert, reads, head). They are meant to run
off the trio thread through :meth:`RecordedLog.run`, which a backend may make inline when its recorder
never blocks (the in-memory one).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid5

import trio
from eventsourcing.persistence import IntegrityError, Mapper, Notification, StoredEvent

from core.events import EventRecord, NewEvent
from core.store import CorruptEvent
from core.writer import MAX_RUN, Row, SequenceTaken
from projections.transactions import TRANSACTION_FIELDS, TransactionQuery, listing_key

__all__ = [
    "STREAM_NAMESPACE",
    "Committer",
    "Fence",
    "MemorySideTables",
    "RecordMapper",
    "RecordedLog",
    "SideTables",
    "StreamRecorder",
    "stream_uuid",
]

T = TypeVar("T")

# Fixed forever: changing it would orphan every stored stream.
STREAM_NAMESPACE = UUID("6f1c1b0e-3f5a-5b8e-9d0a-63686172676b")


@functools.lru_cache(maxsize=65536)
def stream_uuid(stream: str) -> UUID:
    """The originator id under which ``stream`` is stored (cached: uuid5 hashes on every append)."""
    return uuid5(STREAM_NAMESPACE, stream)


class StreamRecorder(Protocol):
    """The ``ApplicationRecorder`` methods chargeward uses, plus one a backend adds: ``select_stream``.

    ``select_stream`` reads one stream together with each row's notification id, which the
    library's ``select_events`` does not return and ``read_stream`` needs for positions; it starts
    at the row that holds sequence ``gt + 1``. ``insert_events`` takes ``sizes``, the number of
    events in each row, and gives each row the notification id of its last event.
    """

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None: ...

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]: ...

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...

    def select_stream(self, originator_id: UUID, gt: int, limit: int | None) -> Sequence[Notification]: ...


class Committer(Protocol):
    """Commits batches somewhere other than this process's threads (the SQLite committer process)."""

    async def start(self) -> None: ...

    async def insert(self, rows: Sequence[Row]) -> list[int]: ...

    async def aclose(self) -> None: ...


class Notifier(Protocol):
    """Hears of commits made by other processes (PostgreSQL's LISTEN/NOTIFY); run by the store."""

    async def run(self, heard: Callable[[], None], *, task_status: trio.TaskStatus[None]) -> None:
        """Call ``heard`` after each commit of another process, and once after each (re)connect, for
        what was committed while nobody listened; never returns."""
        ...


class Fence(Protocol):
    """Which streams this process may append to, when several nodes share one store.

    Set on a log by ``adapters.cluster``: a station's stream takes appends only from the node that
    holds the station's lease. ``check`` refuses, before anything is queued, a stream whose lease
    this node does not hold; ``claims`` names, for the commit, each fenced stream's originator id
    and the lease epoch held, so the recorder checks them in the commit's own transaction.
    """

    node: str

    def check(self, streams: Iterable[str]) -> None:
        """``core.store.NotOwner`` naming the first stream this node may not append to."""
        ...

    def claims(self, streams: Iterable[str]) -> list[tuple[UUID, int]]:
        """(originator id, lease epoch) of each fenced stream among ``streams``; NotOwner as ``check``."""
        ...


class SideTables(Protocol):
    """chargeward's own tables beside the log (blocking side): snapshots by key, the transaction index.

    The async ports they back are ``core.store.SnapshotStore`` and
    ``projections.transactions.TransactionIndexStore``, implemented by ``RecordedStore``.
    """

    def load(self, key: str) -> bytes | None: ...

    def save(self, key: str, blob: bytes) -> None: ...

    def position(self) -> int: ...

    def apply(self, rows: Sequence[Mapping[str, Any]], position: int) -> None: ...

    def get(self, transaction_id: int | str) -> dict[str, Any] | None: ...

    def find(self, query: TransactionQuery) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class MemorySideTables:
    """Snapshots and the transaction index in dicts, living as long as the log (``memory://``)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._transactions: dict[int | str, dict[str, Any]] = {}
        self._position = 0

    def load(self, key: str) -> bytes | None:
        return self._blobs.get(key)

    def save(self, key: str, blob: bytes) -> None:
        self._blobs[key] = bytes(blob)

    def position(self) -> int:
        return self._position

    def apply(self, rows: Sequence[Mapping[str, Any]], position: int) -> None:
        for row in rows:
            self._transactions[row["transaction_id"]] = {name: row[name] for name in TRANSACTION_FIELDS}
        self._position = position

    def get(self, transaction_id: int | str) -> dict[str, Any] | None:
        row = self._transactions.get(transaction_id)
        return None if row is None else dict(row)

    def find(self, query: TransactionQuery) -> list[dict[str, Any]]:
        found = []
        after = None if query.after is None else listing_key(query.after)
        for tx_id in sorted(self._transactions, key=listing_key):
            row = self._transactions[tx_id]
            if after is not None and listing_key(tx_id) <= after:
                continue
            if query.station is not None and row["station_id"] != query.station:
                continue
            if query.active is not None and (row["stopped"] is None) != query.active:
                continue
            found.append(dict(row))
            if len(found) == query.limit:
                break
        return found

    def close(self) -> None:
        pass


class RecordMapper(Mapper[UUID]):
    """Maps runs of ``NewEvent`` to ``StoredEvent`` rows and stored rows back to ``EventRecord``.

    Uses the library's transcoder, compressor and cipher, so the env that builds the factory can turn
    on compression or encryption without touching this code.
    """

    def encode_state(self, events: Sequence[NewEvent]) -> bytes:
        """The stored ``state`` bytes of a run; TypeError/ValueError for a payload the codec refuses."""
        first = events[0]
        if len(events) == 1:
            state = self.transcoder.encode({"stream": first.stream, "time": first.time, "data": first.data})
        else:
            entries = [
                [e.type, e.data] if _same_time(e.time, first.time) else [e.type, e.data, e.time]
                for e in events
            ]
            state = self.transcoder.encode({"stream": first.stream, "time": first.time, "events": entries})
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return state

    def to_stored(self, events: Sequence[NewEvent], sequence: int, state: bytes) -> StoredEvent:
        return StoredEvent(
            originator_id=stream_uuid(events[0].stream),
            originator_version=sequence,
            topic=topic(events),
            state=state,
        )

    def to_records(self, stored: StoredEvent, position: int) -> list[EventRecord]:
        """Decode one stored row into its events; ``CorruptEvent`` naming ``position`` if it does not decode.

        ``position`` is the row's notification id: the position of its last event.
        """
        try:
            state = stored.state
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            decoded = self.transcoder.decode(state)
        except Exception as e:  # any failure to decode is damage to the log, whatever raised it
            raise CorruptEvent(position, f"{type(e).__name__}: {e}") from e
        if not isinstance(decoded, Mapping):
            raise CorruptEvent(position, f"state is a {type(decoded).__name__}, not a map")
        stream, time = decoded.get("stream"), decoded.get("time")
        if not isinstance(stream, str) or not isinstance(time, datetime):
            raise CorruptEvent(position, f"state lacks a valid stream or time: keys {sorted(decoded)}")
        if stream_uuid(stream) != stored.originator_id:
            raise CorruptEvent(position, f"state names stream {stream!r}, row belongs to another stream")
        sequence = stored.originator_version
        entries = decoded.get("events")
        if entries is None:
            data = decoded.get("data")
            if not isinstance(data, Mapping):
                raise CorruptEvent(position, f"state lacks valid data: keys {sorted(decoded)}")
            return [EventRecord(stream, sequence, position, stored.topic, time, data)]
        if not isinstance(entries, list) or not entries:
            raise CorruptEvent(position, "state holds no list of events")
        first = position - len(entries) + 1
        records = []
        for i, entry in enumerate(entries):
            if (
                not isinstance(entry, list)
                or len(entry) not in (2, 3)
                or not isinstance(entry[0], str)
                or not isinstance(entry[1], Mapping)
                or (len(entry) == 3 and not isinstance(entry[2], datetime))
            ):
                raise CorruptEvent(
                    position, f"event {i} of the row is not [type, data] or [type, data, time]"
                )
            when = entry[2] if len(entry) == 3 else time
            records.append(EventRecord(stream, sequence + i, first + i, entry[0], when, entry[1]))
        return records

    def size(self, stored: StoredEvent) -> int:
        """How many events a stored row holds."""
        return len(self.to_records(stored, 0))


def _same_time(a: datetime, b: datetime) -> bool:
    """The same instant with the same UTC offset: what the codec would bring back alike."""
    return a is b or (a == b and a.utcoffset() == b.utcoffset())


def topic(events: Sequence[NewEvent]) -> str:
    """The stored topic of a run: its one type, or its types joined by ``,`` (read by people only)."""
    if len(events) == 1:
        return events[0].type
    return ",".join(e.type for e in events)


class RecordedLog:
    """One recorder seen as chargeward's log; blocking methods, to be called through :meth:`run`."""

    def __init__(
        self,
        recorder: StreamRecorder,
        mapper: RecordMapper,
        *,
        location: str,
        offload: bool,
        poll_interval: float | None,
        close: Callable[[], None],
        committer: Committer | None = None,
        side: SideTables | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.location = location
        self.offload = offload
        # None: followers never poll (every commit happens in this process, or ``notifier`` hears of
        # the others).
        self.poll_interval = poll_interval
        self.close = close
        self.committer = committer
        """Set: commits go to it (started and closed by the store); None: to ``insert`` in a thread."""
        self.side: SideTables = side if side is not None else MemorySideTables()
        self.notifier = notifier
        """Set: run by the store for its lifetime, waking followers on other processes' commits."""
        self.fence: Fence | None = None
        """Set (by ``adapters.cluster``): each commit proves in its transaction the leases it needs."""

    async def run(self, fn: Callable[[], T], limiter: trio.CapacityLimiter | None = None) -> T:
        """Run a blocking call: in a worker thread (under ``limiter`` if given), or inline for a
        backend that never blocks."""
        if self.offload:
            return await trio.to_thread.run_sync(fn, limiter=limiter)
        await trio.lowlevel.checkpoint()
        return fn()

    def encode(self, events: Sequence[NewEvent]) -> bytes:
        return self.mapper.encode_state(events)

    async def commit(self, rows: Sequence[Row]) -> list[int]:
        """Commit rows through the committer if there is one, else :meth:`insert` off the trio thread."""
        if self.committer is not None:
            return await self.committer.insert(rows)
        return await self.run(lambda: self.insert(rows))

    def insert(self, rows: Sequence[Row]) -> list[int]:
        """Commit ``(run, first sequence, state)`` rows in one transaction; the position of each
        row's last event.

        ``SequenceTaken`` if a (stream, sequence) is already stored: another writer got there first.
        """
        stored = [self.mapper.to_stored(events, sequence, state) for events, sequence, state in rows]
        sizes = [len(events) for events, _, _ in rows]
        try:
            if self.fence is None:
                positions = self.recorder.insert_events(stored, sizes=sizes)
            else:
                leases = self.fence.claims({events[0].stream for events, _, _ in rows})
                positions = self.recorder.insert_events(
                    stored, sizes=sizes, leases=leases, node=self.fence.node
                )
        except IntegrityError as e:
            raise SequenceTaken(str(e)) from e
        if positions is None or len(positions) != len(stored):
            raise RuntimeError(f"recorder at {self.location} did not return one position per row")
        return list(positions)

    def stream_version(self, stream: str) -> int:
        last = self.recorder.select_events(stream_uuid(stream), desc=True, limit=1)
        return last[0].originator_version + self.mapper.size(last[0]) - 1 if last else 0

    def read_stream(self, stream: str, after: int, limit: int | None) -> list[EventRecord]:
        rows = self.recorder.select_stream(stream_uuid(stream), after, limit)
        records = [r for row in rows for r in self.mapper.to_records(row, row.id) if r.sequence > after]
        return records if limit is None else records[:limit]

    def read_all(self, after: int, limit: int) -> list[EventRecord]:
        """The first ``limit`` records after position ``after``.

        A row's id is the position of its last event, so the rows up to the first one whose id
        reaches ``after + limit`` hold the page; the rows after it (a page of ``limit`` rows holds
        up to ``MAX_RUN`` times ``limit`` events) are not decoded. Decoding them, only to drop their
        records and read them again for the next page, made a refold of a log of runs decode each
        row about three times.
        """
        end = after + limit
        # A row holds at most MAX_RUN events, so rows with ids beyond this hold none of the page;
        # without a row up to it (a row of more events, which no build writes), the next row serves.
        stop = end + MAX_RUN - 1
        rows = self.recorder.select_notifications(after, limit, stop=stop, inclusive_of_start=False)
        if not rows:
            rows = self.recorder.select_notifications(after, 1, inclusive_of_start=False)
        records: list[EventRecord] = []
        for row in rows:
            records.extend(r for r in self.mapper.to_records(row, row.id) if r.position > after)
            if row.id >= end:
                break
        return records[:limit]

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0
