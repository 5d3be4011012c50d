"""One full site actor round for 1,000 connectors on one site: the actor's own ``_round``, not the
allocation alone.

A :class:`~actors.site.SiteActor` over an in-memory store (the SQLite writer's commit is off the trio
thread and not the round's work), acting through a port that accepts every send at once, with a view
folded from real events: :data:`STATIONS` stations of :data:`CONNECTORS` connectors each on
:data:`FEEDERS` feeder circuits, every connector in a transaction and sampling its current, a grid
meter reading non-EV load. One round is decide (demands, limits, non-EV load, the allocation over
every level), pace, the ``SiteRound`` event built and appended, and the sends spawned. Measured
per round in wall and CPU seconds of this process (``time.process_time``), medians:

- ``all_sent``: every connector's target changed (the meter moved), so all 1,000 are sent;
- ``steady``: nothing changed, nothing sent (the periodic round);
- ``event_bytes``: the size of one round's event as stored (msgpack), which the log pays per round,
  and ``checkpoint_event_bytes``, that of a round carrying the whole view (one in
  :data:`actors.site.CHECKPOINT_EVERY`).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

import msgpack
import trio

from actors.events.modbus import ModbusReading
from actors.events.refs import IdToken
from actors.events.station import MeterSampled, TransactionStarted
from actors.site import SiteActor, SiteStats
from actors.sites import Circuit, Member, Pacing, Site
from actors.sites.control import Setpoint
from adapters.stores import open_store
from core.clock import TrioClock

STATIONS, CONNECTORS, FEEDERS = 500, 2, 10
ROUNDS = 7


class Accepting:
    """A ChargingControl that takes every send at once."""

    async def apply(self, setpoint: Setpoint) -> None:
        await trio.lowlevel.checkpoint()

    async def secure(self, station: str, amps: float) -> None:
        await trio.lowlevel.checkpoint()


def site() -> Site:
    stations = tuple(f"CP-{i:03d}" for i in range(STATIONS))
    per = STATIONS // FEEDERS
    circuits = tuple(
        Circuit(f"feeder-{f}", None, 1_000.0 + 100 * f, None, members(stations[f * per : (f + 1) * per]))
        for f in range(FEEDERS)
    )
    pacing = Pacing(deadband=0.0, min_interval=0.0)
    return Site("bench", stations, 12_000.0, None, meter="grid", circuits=circuits, pacing=pacing)


def members(stations: tuple[str, ...]) -> tuple[Member, ...]:
    return tuple(Member(s) for s in stations)


def grid(amps: float) -> ModbusReading:
    samples = [
        {"name": f"i{n}", "value": amps, "unit": "A", "measurand": "Current.Import", "phase": f"L{n}"}
        for n in (1, 2, 3)
    ]
    return ModbusReading(latency_s=0.0, samples=samples, raw=[])


def fold(actor: SiteActor, now: datetime) -> None:
    """The actor's view as its follower would fold it from the stations' and the meter's events."""
    number = 0
    for station in actor.site.stations:
        for connector in range(1, CONNECTORS + 1):
            number += 1
            started = TransactionStarted(
                transaction_id=number,
                connector=connector,
                id_token=IdToken("TAG"),
                meter_start_wh=0.0,
                timestamp=now.isoformat(),
                reservation_id=None,
                status="Accepted",
                expiry=None,
                parent=None,
            )
            actor.view.apply(f"station/{station}", started, now)
            sample = {"measurand": "Current.Import", "phase": None, "value": 0.0, "unit": "A"}
            sampled = MeterSampled(connector=connector, transaction_id=number, samples=[sample])
            actor.view.apply(f"station/{station}", sampled, now)
    actor.view.apply("meter/grid", grid(400.0), now)


async def _timed(actor: SiteActor, reason: str) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await actor._round(reason)
    return time.perf_counter() - wall, time.process_time() - cpu


async def measure() -> dict[str, Any]:
    async with open_store("memory://") as store, trio.open_nursery() as nursery:
        actor = SiteActor(site(), store, TrioClock(), Accepting(), SiteStats())
        actor._nursery = nursery
        now = datetime.now(UTC)
        fold(actor, now)
        await actor._round("start")
        await trio.sleep(0.5)  # the start's sends done
        changed: list[tuple[float, float]] = []
        steady: list[tuple[float, float]] = []
        spread: list[int] = []  # sends per changed round
        for index in range(ROUNDS):
            actor.view.apply("meter/grid", grid(1_000.0 if index % 2 == 0 else 400.0), actor.clock.wall())
            before = actor.stats.sends["accepted"]
            changed.append(await _timed(actor, "change"))
            await trio.sleep(0.3)
            spread.append(actor.stats.sends["accepted"] - before)
            steady.append(await _timed(actor, "interval"))
            await trio.sleep(0.1)
        records = await store.read_stream("site/bench")
        sizes = {("state" in r.data): len(msgpack.packb(dict(r.data))) for r in records}
        nursery.cancel_scope.cancel()
    return {
        "connectors": STATIONS * CONNECTORS,
        "levels": FEEDERS + 1,
        "all_sent_ms": _median(changed),
        "steady_ms": _median(steady),
        "sends_per_changed_round": min(spread),
        "event_bytes": sizes.get(False),
        "checkpoint_event_bytes": sizes.get(True),
        "rounds_timed": ROUNDS,
    }


def _median(samples: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "wall": round(statistics.median(w for w, _ in samples) * 1000, 2),
        "cpu": round(statistics.median(c for _, c in samples) * 1000, 2),
    }


def main() -> None:
    print(trio.run(measure))


if __name__ == "__main__":
    main()
