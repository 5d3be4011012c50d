"""``chargeward replay``: rebuild live state from a stored log and show a station's timeline.

The same folds as the running server (``projections.live``) run over the stored records up to a
position or a time, so what this prints is exactly what the server knew at that moment. With
``--json`` the output is machine-readable, so two builds' replays can be diffed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from actors.events import Event, encode, events_of
from actors.events.station import FrameReceived, FrameSent
from adapters.event_json import to_json
from core.events import EventRecord
from core.projection import replay
from core.store import EventStore
from projections.live import LiveProjection, LiveState

PAGE = 1000


@dataclass(frozen=True, slots=True)
class ReplayBound:
    """Where to stop: at a global position, at a wall time, or at the end (both None)."""

    position: int | None = None
    time: datetime | None = None

    def admits(self, record: EventRecord) -> bool:
        if self.position is not None and record.position > self.position:
            return False
        return not (self.time is not None and record.time > self.time)


async def stored_records(
    store: EventStore, station: str | None, bound: ReplayBound, progress: TextIO | None = None
) -> AsyncIterator[EventRecord]:
    """The records of one station (or all), in log order, up to ``bound``."""
    after, seen = 0, 0
    while True:
        if station is not None:
            page = await store.read_stream(f"station/{station}", after=after, limit=PAGE)
            next_after = page[-1].sequence if page else after
        else:
            page = await store.read_all(after=after, limit=PAGE)
            next_after = page[-1].position if page else after
        for record in page:
            if not bound.admits(record):
                return
            yield record
        seen += len(page)
        if progress is not None and page and progress.isatty():
            progress.write(f"\rreplayed {seen} events")
            progress.flush()
        if len(page) < PAGE:
            if progress is not None and seen:
                progress.write(
                    f"\rreplayed {seen} events\n" if progress.isatty() else f"replayed {seen} events\n"
                )
            return
        after = next_after


def _summary(event: Event) -> str:
    if isinstance(event, FrameReceived):
        extra = f" repaired {len(event.repairs)}" if event.repairs else ""
        extra += f" refused {event.error}" if event.error else ""
        return f"<- #{event.conn} {event.text!s}{extra}"
    if isinstance(event, FrameSent):
        return f"-> #{event.conn} {event.text}"
    type_name, data = encode(event)  # events of older versions show as this build reads them
    shown = {k: v for k, v in data.items() if v is not None and k not in ("samples", "text", "v")}
    if "samples" in data:
        shown["samples"] = len(data["samples"])
    return f"{type_name} {json.dumps(to_json(shown), ensure_ascii=False)}"


def timeline_lines(records: list[EventRecord], width: int = 160) -> list[str]:
    """One line per event: position, time, what happened (frames abbreviated to ``width``)."""
    lines = []
    for record in records:
        for event in events_of(record):
            text = _summary(event)
            if len(text) > width:
                text = text[: width - 1] + "…"
            lines.append(f"{record.position:>8} {record.time.isoformat(timespec='milliseconds')} {text}")
    return lines


def state_of(records: list[EventRecord]) -> LiveState:
    return replay(LiveProjection(), records)


async def run_replay(
    store: EventStore, station: str | None, bound: ReplayBound, as_json: bool, out: TextIO = sys.stdout
) -> int:
    """Print the timeline and the rebuilt state; returns a process exit code."""
    records = [
        r async for r in stored_records(store, station, bound, progress=sys.stderr if not as_json else None)
    ]
    state = state_of(records)
    if station is not None and station not in state.stations:
        print(f"chargeward: no events for station {station!r} in this store", file=sys.stderr)
        return 1
    shown = [state.stations[station]] if station is not None else list(state.stations.values())
    transactions = [t for t in state.transactions.values() if station is None or t.station_id == station]
    if as_json:
        json.dump(
            to_json(
                {
                    "position": state.position,
                    "stations": [s.as_dict() for s in shown],
                    "transactions": [t.as_dict() for t in transactions],
                    "timeline": [
                        {
                            "position": r.position,
                            "time": r.time.isoformat(),
                            "type": r.type,
                            "data": dict(r.data),
                        }
                        for r in records
                        if station is not None
                    ],
                }
            ),
            out,
            indent=2,
            ensure_ascii=False,
        )
        out.write("\n")
        return 0
    if station is not None:
        out.write("\n".join(timeline_lines(records)) + "\n\n")
    out.write(f"state at position {state.position}:\n")
    for view in shown:
        out.write(json.dumps(to_json(view.as_dict()), ensure_ascii=False, indent=2) + "\n")
    for tx in transactions:
        out.write(json.dumps(to_json(tx.as_dict()), ensure_ascii=False) + "\n")
    return 0
