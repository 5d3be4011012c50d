"""The core pipeline without sockets: frames into station actors, replies out, every frame durable.

Stations are in-memory lines attached to a real Fleet over a real SQLite store; each one sends its
next CALL as soon as the previous reply arrives (closed loop), with the bench's default mix (70%
MeterValues with 10 sampled values, 30% Heartbeat). It isolates chargeward's own per-message cost
(session, validation, decisions, commit, connector and live-state folds) from WebSocket and
load-generator noise, so hot-path changes can be compared before and after. Like ``chargeward serve``
it settles the heap once up and commits through the SQLite committer process, whose CPU it counts (and
reports apart, with rows and events per commit). ``python -m bench.pipeline_micro`` prints JSON.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from typing import Any

import trio

from actors.fleet import Fleet
from actors.policy import FleetPolicy
from actors.station import FrameIn
from adapters.gc_policy import settle_heap
from adapters.stores import open_store
from bench.servers import proc_cpu_seconds, tree_total
from core.projection import ProjectionRunner
from core.supervisor import Runtime
from projections.live import LiveProjection

METER_VALUES = json.dumps(
    {
        "connectorId": 1,
        "transactionId": 1,
        "meterValue": [
            {
                "timestamp": "2026-11-21T10:00:00Z",
                "sampledValue": [
                    {"value": f"{v:.1f}", "measurand": m, "unit": u, **({"phase": p} if p else {})}
                    for v, m, u, p in [
                        (7.2, "Power.Active.Import", "kW", None),
                        (1234.5, "Energy.Active.Import.Register", "kWh", None),
                        (16.0, "Current.Import", "A", "L1"),
                        (16.1, "Current.Import", "A", "L2"),
                        (15.9, "Current.Import", "A", "L3"),
                        (230.1, "Voltage", "V", "L1-N"),
                        (229.8, "Voltage", "V", "L2-N"),
                        (231.0, "Voltage", "V", "L3-N"),
                        (55.0, "SoC", "Percent", None),
                        (31.0, "Temperature", "Celsius", None),
                    ]
                ],
            }
        ],
    }
)


class MemoryLine:
    """A connection that hands each reply to the waiting station task."""

    subprotocol = "ocpp1.6"
    remote = "memory"

    def __init__(self) -> None:
        self.reply = trio.Event()

    async def send(self, text: str) -> None:
        await trio.lowlevel.checkpoint()
        self.reply.set()

    async def close(self, reason: str, code: int = 1000) -> None:
        await trio.lowlevel.checkpoint()


def _cpu_seconds() -> float:
    """This process's CPU and its children's (the SQLite committer)."""
    return tree_total(os.getpid(), proc_cpu_seconds)


async def _measure(directory: str, stations: int, seconds: float) -> dict[str, Any]:
    runtime = Runtime()
    async with open_store(f"sqlite:///{directory}/events.db") as store, trio.open_nursery() as nursery:
        fleet = Fleet(runtime, store, FleetPolicy())
        await nursery.start(fleet.run)
        await nursery.start(ProjectionRunner(LiveProjection(), store).run)  # as the server runs it
        done = 0
        stop_at = 0.0

        async def station(n: int) -> None:
            nonlocal done
            line = MemoryLine()
            station_id = f"P{n}"
            conn = await fleet.attach(station_id, line)
            ref = fleet.ensure_station(station_id)
            rng = random.Random(n)
            i = 0
            while trio.current_time() < stop_at:
                i += 1
                if rng.random() < 0.7:
                    text = f'[2,"{i}","MeterValues",{METER_VALUES}]'
                else:
                    text = f'[2,"{i}","Heartbeat",{{}}]'
                line.reply = trio.Event()
                await ref.send(FrameIn(conn, text, runtime.clock.wall()))
                await line.reply.wait()
                done += 1

        settle_heap()  # as `chargeward serve` does once it is up
        stop_at = trio.current_time() + seconds
        cpu, own, wall = _cpu_seconds(), proc_cpu_seconds(os.getpid()), time.perf_counter()
        async with trio.open_nursery() as load:
            for n in range(stations):
                load.start_soon(station, n)
        cpu, own, wall = _cpu_seconds() - cpu, proc_cpu_seconds(os.getpid()) - own, time.perf_counter() - wall
        stats = store.stats  # type: ignore[attr-defined]
        nursery.cancel_scope.cancel()
    return {
        "stations": stations,
        "messages": done,
        "messages_per_s": round(done / wall),
        "cpu_us_per_message": round(cpu / done * 1e6, 1),
        "committer_cpu_us_per_message": round((cpu - own) / done * 1e6, 1),
        "events_per_commit": round(stats.events / max(stats.batches, 1), 1),
        "rows_per_commit": round(stats.rows / max(stats.batches, 1), 1),
    }


def run(stations: int = 50, seconds: float = 5.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chargeward-pipeline-") as directory:
        return trio.run(_measure, directory, stations, seconds)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
