"""``chargeward events``: tail the log, export it as a msgpack stream, import such a stream.

An export is a sequence of msgpack maps, one per record (stream, sequence, type, time, data; the
position is where it sat in the source and is informational). Import appends them in order with the
source's per-stream sequences as expected versions, so importing into a store whose streams
disagree fails with a conflict naming the stream instead of interleaving two histories. Long
exports and imports report progress on stderr.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import BinaryIO, TextIO

from adapters.event_json import record_json
from core.codec import pack, unpack_stream
from core.events import EventRecord, NewEvent
from core.store import EventStore

BATCH = 1000
FORMAT = "chargeward-events/1"


class BadExport(ValueError):
    """An import stream that is not a chargeward export (the message names the record)."""


async def _pages(store: EventStore, station: str | None, after: int) -> AsyncIterator[list[EventRecord]]:
    while True:
        if station is not None:
            page = await store.read_stream(f"station/{station}", after=after, limit=BATCH)
        else:
            page = await store.read_all(after=after, limit=BATCH)
        if not page:
            return
        yield page
        after = page[-1].sequence if station is not None else page[-1].position


def _progress(out: TextIO | None, verb: str, n: int, final: bool = False) -> None:
    """A running count on a terminal (rewritten in place); just the total otherwise."""
    if out is None:
        return
    if out.isatty():
        out.write(f"\r{verb} {n} events" + ("\n" if final else ""))
    elif final:
        out.write(f"{verb} {n} events\n")
    out.flush()


async def export_events(
    store: EventStore, out: BinaryIO, station: str | None = None, progress: TextIO | None = None
) -> int:
    """Write every record (of one station, or all) to ``out``; returns how many."""
    out.write(pack({"format": FORMAT}))
    count = 0
    async for page in _pages(store, station, 0):
        for r in page:
            out.write(
                pack(
                    {
                        "stream": r.stream,
                        "sequence": r.sequence,
                        "position": r.position,
                        "type": r.type,
                        "time": r.time,
                        "data": dict(r.data),
                    }
                )
            )
        count += len(page)
        _progress(progress, "exported", count)
    _progress(progress, "exported", count, final=True)
    return count


async def import_events(store: EventStore, source: BinaryIO, progress: TextIO | None = None) -> int:
    """Append every record of an export to ``store``; returns how many.

    Raises :class:`BadExport` for a stream that is not an export, naming the record, and the store's
    ``ConcurrencyConflict`` when a stream's history in the target disagrees with the export's.
    """
    if not source.seekable():
        source = io.BytesIO(source.read())
    objects = unpack_stream(source)
    try:
        header = next(objects, None)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise BadExport(f"not a chargeward export (expected a {FORMAT!r} header)")
        count = 0
        batch: list[NewEvent] = []
        expected: dict[str, int] = {}
        for index, obj in enumerate(objects, start=1):
            try:
                event = NewEvent(obj["stream"], obj["type"], obj["data"], obj["time"])
                sequence = int(obj["sequence"])
            except (KeyError, TypeError, ValueError) as error:
                raise BadExport(f"record {index}: {error}") from error
            if event.stream not in expected:
                expected[event.stream] = sequence - 1
            batch.append(event)
            if len(batch) >= BATCH:
                count += await _append(store, batch, expected)
                _progress(progress, "imported", count)
        count += await _append(store, batch, expected)
    except ValueError as error:
        if isinstance(error, BadExport):
            raise
        raise BadExport(str(error)) from error
    _progress(progress, "imported", count, final=True)
    return count


async def _append(store: EventStore, batch: list[NewEvent], expected: dict[str, int]) -> int:
    if not batch:
        return 0
    streams = {e.stream for e in batch}
    await store.append(batch, expected={s: expected[s] for s in streams})
    for event in batch:
        expected[event.stream] += 1
    n = len(batch)
    batch.clear()
    return n


async def tail_events(store: EventStore, out: TextIO, station: str | None = None, after: int = 0) -> None:
    """Print every record after ``after`` as a JSON line, then follow the log until cancelled."""
    prefix = f"station/{station}" if station is not None else None
    async for record in store.follow(after):
        if prefix is None or record.stream == prefix:
            out.write(record_json(record) + "\n")
            out.flush()
