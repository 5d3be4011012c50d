"""Plumbing every backend shares: the mapper, the recorder a backend must supply, and the log.

The ``eventsourcing`` library stores ``StoredEvent`` rows (originator id, version, topic, state) and
numbers them in one application sequence (notification ids). chargeward maps onto that:
originator id = uuid5(fixed namespace, stream), originator version = sequence, topic = event type,
state = msgpack of ``{stream, time, data}``, notification id = global position.

``RecordedLog`` wraps one recorder with blocking methods (insert, reads, head). They are meant to run
off the trio thread through :meth:`RecordedLog.run`, which a backend may make inline when its recorder
never blocks (the in-memory one).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid5

import trio
from eventsourcing.persistence import IntegrityError, Mapper, Notification, StoredEvent

from core.events import EventRecord, NewEvent
from core.store import CorruptEvent
from core.writer import SequenceTaken
from projections.transactions import TRANSACTION_FIELDS, TransactionQuery

__all__ = [
    "STREAM_NAMESPACE",
    "Committer",
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

    ``select_stream`` reads one stream together with each event's notification id, which the
    library's ``select_events`` does not return and ``read_stream`` needs for positions.
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

    async def insert(self, rows: Sequence[tuple[NewEvent, int, bytes]]) -> list[int]: ...

    async def aclose(self) -> None: ...


class SideTables(Protocol):
    """chargeward's own tables beside the log (blocking side): snapshots by key, the transaction index.

    The async ports they back are ``core.store.SnapshotStore`` and
    ``projections.transactions.TransactionIndexStore``, implemented by ``RecordedStore``.
    """

    def load(self, key: str) -> bytes | None: ...

    def save(self, key: str, blob: bytes) -> None: ...

    def position(self) -> int: ...

    def apply(self, rows: Sequence[Mapping[str, Any]], position: int) -> None: ...

    def get(self, transaction_id: int) -> dict[str, Any] | None: ...

    def find(self, query: TransactionQuery) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class MemorySideTables:
    """Snapshots and the transaction index in dicts, living as long as the log (``memory://``)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._transactions: dict[int, dict[str, Any]] = {}
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

    def get(self, transaction_id: int) -> dict[str, Any] | None:
        row = self._transactions.get(transaction_id)
        return None if row is None else dict(row)

    def find(self, query: TransactionQuery) -> list[dict[str, Any]]:
        found = []
        for tx_id in sorted(self._transactions):
            row = self._transactions[tx_id]
            if query.after is not None and tx_id <= query.after:
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
    """Maps ``NewEvent`` to ``StoredEvent`` and stored rows back to ``EventRecord``.

    Uses the library's transcoder, compressor and cipher, so the env that builds the factory can turn
    on compression or encryption without touching this code.
    """

    def encode_state(self, event: NewEvent) -> bytes:
        """The stored ``state`` bytes of ``event``; TypeError/ValueError for a payload the codec refuses."""
        state = self.transcoder.encode({"stream": event.stream, "time": event.time, "data": event.data})
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return state

    def to_stored(self, event: NewEvent, sequence: int, state: bytes) -> StoredEvent:
        return StoredEvent(
            originator_id=stream_uuid(event.stream),
            originator_version=sequence,
            topic=event.type,
            state=state,
        )

    def to_record(self, stored: StoredEvent, position: int) -> EventRecord:
        """Decode one stored row; ``CorruptEvent`` naming ``position`` if it does not decode."""
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
        stream, time, data = decoded.get("stream"), decoded.get("time"), decoded.get("data")
        if not isinstance(stream, str) or not isinstance(time, datetime) or not isinstance(data, Mapping):
            raise CorruptEvent(position, f"state lacks a valid stream, time or data: keys {sorted(decoded)}")
        if stream_uuid(stream) != stored.originator_id:
            raise CorruptEvent(position, f"state names stream {stream!r}, row belongs to another stream")
        return EventRecord(
            stream=stream,
            sequence=stored.originator_version,
            position=position,
            type=stored.topic,
            time=time,
            data=data,
        )


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
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.location = location
        self.offload = offload
        # None: every commit happens in this process, so followers never need to poll.
        self.poll_interval = poll_interval
        self.close = close
        self.committer = committer
        """Set: commits go to it (started and closed by the store); None: to ``insert`` in a thread."""
        self.side: SideTables = side if side is not None else MemorySideTables()

    async def run(self, fn: Callable[[], T], limiter: trio.CapacityLimiter | None = None) -> T:
        """Run a blocking call: in a worker thread (under ``limiter`` if given), or inline for a
        backend that never blocks."""
        if self.offload:
            return await trio.to_thread.run_sync(fn, limiter=limiter)
        await trio.lowlevel.checkpoint()
        return fn()

    def encode(self, event: NewEvent) -> bytes:
        return self.mapper.encode_state(event)

    async def commit(self, rows: Sequence[tuple[NewEvent, int, bytes]]) -> list[int]:
        """Commit rows through the committer if there is one, else :meth:`insert` off the trio thread."""
        if self.committer is not None:
            return await self.committer.insert(rows)
        return await self.run(lambda: self.insert(rows))

    def insert(self, rows: Sequence[tuple[NewEvent, int, bytes]]) -> list[int]:
        """Commit ``(event, sequence, state)`` rows in one transaction; return their positions.

        ``SequenceTaken`` if a (stream, sequence) is already stored: another writer got there first.
        """
        stored = [self.mapper.to_stored(event, sequence, state) for event, sequence, state in rows]
        try:
            positions = self.recorder.insert_events(stored)
        except IntegrityError as e:
            raise SequenceTaken(str(e)) from e
        if positions is None or len(positions) != len(stored):
            raise RuntimeError(f"recorder at {self.location} did not return one position per event")
        return list(positions)

    def stream_version(self, stream: str) -> int:
        last = self.recorder.select_events(stream_uuid(stream), desc=True, limit=1)
        return last[0].originator_version if last else 0

    def read_stream(self, stream: str, after: int, limit: int | None) -> list[EventRecord]:
        rows = self.recorder.select_stream(stream_uuid(stream), after, limit)
        return [self.mapper.to_record(row, row.id) for row in rows]

    def read_all(self, after: int, limit: int) -> list[EventRecord]:
        rows = self.recorder.select_notifications(after, limit, inclusive_of_start=False)
        return [self.mapper.to_record(row, row.id) for row in rows]

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0
