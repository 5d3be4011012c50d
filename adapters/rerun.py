"""``chargeward replay --rerun``: this build's decisions over a stored log, compared with the recorded ones.

Reads the log once, in pages, and feeds each station's records (or one station's, ``--station``) to
its own :class:`actors.rerun.StationRerunner` under the given fleet policy as they come: only each
station's frame in hand and the differences are held, not the log. Prints per station its first
differences (event index, recorded, re-run) and a summary; ``--json`` writes one object instead. The
exit code says the verdict: 0 when the build decides as recorded, 1 when it does not, 2 when the log
cannot be re-run.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from actors.policy import FleetPolicy
from actors.rerun import Difference, RerunError, StationRerun, StationRerunner
from adapters.event_json import to_json
from adapters.replay import ReplayBound, stored_records
from core.store import EventStore

#: Differences shown per station (all are counted).
SHOWN_PER_STATION = 5

_PREFIX = "station/"


def _event_line(event: dict[str, Any] | None) -> str:
    if event is None:
        return "(none)"
    return f"{event['type']} {json.dumps(to_json(event['data']), ensure_ascii=False)}"


def _station_lines(outcome: StationRerun) -> list[str]:
    shown = outcome.differences[:SHOWN_PER_STATION]
    lines = [f"station {outcome.station}: {outcome.frames} frames, {len(outcome.differences)} differences"]
    for difference in shown:
        lines += [
            f"  event {difference.index} (frame {difference.frame})",
            f"    recorded: {_event_line(difference.recorded)}",
            f"    re-run:   {_event_line(difference.rerun)}",
        ]
    if len(outcome.differences) > len(shown):
        lines.append(f"  ... and {len(outcome.differences) - len(shown)} more")
    return lines


async def run_rerun(
    store: EventStore, station: str | None, policy: FleetPolicy, as_json: bool, out: TextIO = sys.stdout
) -> int:
    """Re-run the stored log; prints the differences and returns a process exit code."""
    rerunners: dict[str, StationRerunner] = {}
    try:
        async for record in stored_records(store, station, ReplayBound(), progress=None):
            if record.stream.startswith(_PREFIX):
                name = record.stream[len(_PREFIX) :]
                rerunner = rerunners.get(name)
                if rerunner is None:
                    rerunner = rerunners[name] = StationRerunner(name, policy)
                rerunner.feed(record)
        if station is not None and station not in rerunners:
            print(f"chargeward: no events for station {station!r} in this store", file=sys.stderr)
            return 2
        outcomes = [rerunners[name].finish() for name in sorted(rerunners)]
    except RerunError as error:
        print(f"chargeward: cannot re-run this log: {error}", file=sys.stderr)
        return 2
    frames = sum(o.frames for o in outcomes)
    differences = sum(len(o.differences) for o in outcomes)
    if as_json:
        examples: list[Difference] = [d for o in outcomes for d in o.differences[:SHOWN_PER_STATION]]
        summary = {
            "stations": len(outcomes),
            "frames": frames,
            "differences": differences,
            "examples": [d.as_dict() for d in examples],
        }
        json.dump(to_json(summary), out, ensure_ascii=False)
        out.write("\n")
    else:
        for outcome in outcomes:
            if outcome.differences:
                out.write("\n".join(_station_lines(outcome)) + "\n")
        out.write(
            f"re-ran {frames} frames of {len(outcomes)} stations: {differences} differences"
            f"{'' if differences else ' (this build decides as recorded)'}\n"
        )
    return 1 if differences else 0
