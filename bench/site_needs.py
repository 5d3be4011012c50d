"""Charging needs met by departure under the optimizer: one simulated night at a depot, round by round.

The site's own pure core runs every round as the site actor runs it (the view folded from events,
:func:`~actors.sites.decide.decide`, a new plan by :func:`~actors.sites.planning.make_plan` when
:func:`~actors.sites.planning.plan_key` changed, the last plan fitted by
:func:`~actors.sites.planning.fit_plan`; here the new plan is ready for the round that asked for
it, where the actor's comes a moment later), in simulated time: a round every :data:`ROUND` seconds
from 16:00 to 09:00, each car drawing what its round allows until its battery has what it needed,
its meter reporting its current per phase and its
energy register, a grid meter reading the cars plus a non-EV load that follows the day. Cars arrive
with a need (energy by a departure, set as the API sets it) and leave at their departure. The same
night runs once per optimizer mode: ``off`` (the instantaneous ``equal`` allocation, needs ignored),
``fastest`` and ``cheapest`` (against a night tariff).

Figures per mode: the fraction of needs met by departure (within 1 %), the energy short over all cars
(kWh), the cost of what was delivered, the site's peak (kW, the highest round), the rounds where the
load was over a limit (0 expected: the round's guarantee), and the planning time per round (median
and max, CPU of this process).

The ``cheapest`` night runs again with the cars on two circuits (even and odd cars, :data:`ROW_LIMIT` A per
phase each), once with the plan made against the site alone (``blind``: the plan as it was before
circuits were constraints of the optimizer, the round's second allocation alone keeping the rows
within their limits) and once against every circuit, counting also the planned currents the round
had to pause (a plan the round could not admit) and the rounds over a circuit's limit.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from actors.events.modbus import ModbusReading
from actors.events.needs import ChargingNeedsSet, SitePricesSet
from actors.events.refs import IdToken
from actors.events.site import SiteLimitSet
from actors.events.station import MeterSampled, TransactionStarted, TransactionStopped
from actors.sites import Circuit, ConnectorId, ConnectorSettings, Member, Optimizer, Pacing, Planning, Site
from actors.sites.decide import decide
from actors.sites.planning import Made, Planned, fit_plan, make_plan, plan_inputs, plan_key
from actors.sites.view import SiteView

START = datetime(2026, 11, 27, 16, tzinfo=UTC)
HOURS = 17
ROUND = 300  # s of simulated time between rounds
CARS = 16
LIMIT = 80.0  # A per phase at the connection
EVENING_LIMIT = 55.0  # A per phase a grid operator allows from 17:00 to 21:00
VOLTAGE = 230.0
TARIFF = ((0, 0.34), (6, 0.14), (14, 0.30))  # (hours from 16:00, price per kWh): cheap 22:00-06:00
ROW_LIMIT = 40.0  # A per phase on each of the two circuits (even cars, odd cars) in the circuit runs


@dataclass
class Car:
    station: str
    arrive: datetime
    depart: datetime
    need_wh: float
    max_current: float
    phases: tuple[int, ...]
    taken_wh: float = 0.0
    draw: float = 0.0
    transaction: int = 0

    @property
    def key(self) -> ConnectorId:
        return ConnectorId(self.station, 1)


def cars(seed: int = 13) -> list[Car]:
    """Arrivals 16:00-20:00; most stay the night, one in four only two to four hours; 8-45 kWh."""
    rng = random.Random(seed)
    found = []
    for i in range(CARS):
        arrive = START + timedelta(minutes=rng.randrange(0, 240, 5))
        short = rng.random() < 0.25
        stay = timedelta(hours=rng.uniform(2, 4)) if short else timedelta(hours=rng.uniform(11, 16))
        depart = min(arrive + stay, START + timedelta(hours=HOURS))
        phases = (1, 2, 3) if rng.random() < 0.8 else (rng.choice((1, 2, 3)),)
        need = rng.uniform(8_000, 20_000) if short else rng.uniform(15_000, 45_000)
        found.append(Car(f"CP-{i:02d}", arrive, depart, round(need), rng.choice((16.0, 32.0)), phases))
    return found


def non_ev(at: datetime) -> float:
    """The depot's own load, A per phase: busy in the evening, low at night."""
    hour = at.hour
    return 30.0 if 16 <= hour < 21 else 12.0 if hour >= 21 or hour < 6 else 22.0


def rows(fleet: list[Car]) -> tuple[Circuit, ...]:
    """Two circuits under the connection: the even cars' and the odd cars'."""
    return tuple(
        Circuit(name, None, ROW_LIMIT, None, tuple(Member(c.station) for c in fleet[start::2]))
        for name, start in (("row-even", 0), ("row-odd", 1))
    )


def site(mode: Optimizer, fleet: list[Car], circuits: bool = False) -> Site:
    settings = {Member(c.station): ConnectorSettings(phases=c.phases) for c in fleet}
    return Site(
        "depot",
        tuple(c.station for c in fleet),
        LIMIT,
        None,
        voltage=VOLTAGE,
        meter="grid",
        connectors=settings,
        pacing=Pacing(),
        planning=Planning(mode, None, 900, 72),
        circuits=rows(fleet) if circuits else (),
    )


def _reading(amps: tuple[float, float, float]) -> ModbusReading:
    samples = [
        {"name": f"i{n}", "value": v, "unit": "A", "measurand": "Current.Import", "phase": f"L{n}"}
        for n, v in zip((1, 2, 3), amps, strict=True)
    ]
    return ModbusReading(latency_s=0.0, samples=samples, raw=[])


def _sampled(car: Car) -> MeterSampled:
    samples: list[dict[str, Any]] = [
        {
            "measurand": "Current.Import",
            "phase": f"L{p}",
            "value": car.draw if p in car.phases else 0.0,
            "unit": "A",
        }
        for p in (1, 2, 3)
    ]
    samples.append({"measurand": "Energy.Active.Import.Register", "value": car.taken_wh, "unit": "Wh"})
    return MeterSampled(connector=1, transaction_id=car.transaction, samples=samples)


def _price(at: datetime) -> float:
    hours = (at - START).total_seconds() / 3600
    return [p for h, p in TARIFF if h <= hours][-1]


def night(mode: Optimizer, seed: int = 13, circuits: bool = False, blind: bool = False) -> dict[str, Any]:
    """One night under ``mode``; ``circuits``: the cars on two rows; ``blind``: plans made against the
    site alone (the rounds still allocate over every level)."""
    fleet = cars(seed)
    view = SiteView(site(mode, fleet, circuits))
    planner = replace(view.site, circuits=()) if blind else view.site
    row_of = {c.key: i % 2 for i, c in enumerate(fleet)}
    paused = circuit_over = 0
    view.apply(
        "site/depot",
        SiteLimitSet(
            source="grid_operator",
            unit="A",
            value=EVENING_LIMIT,
            valid_from=(START + timedelta(hours=1)).isoformat(),
            valid_until=(START + timedelta(hours=5)).isoformat(),
        ),
        START,
    )
    steps = [{"start": (START + timedelta(hours=h)).isoformat(), "price": p} for h, p in TARIFF]
    view.apply("prices/depot", SitePricesSet(site="depot", prices=steps), START)
    sent: dict[ConnectorId, float] = {}
    over = 0
    cost = peak = 0.0
    planning: list[float] = []
    made: Made | None = None
    made_for: tuple[object, ...] | None = None
    here: list[Car] = []
    done: list[Car] = []
    now = START
    for number in range(HOURS * 3600 // ROUND):
        now = START + timedelta(seconds=number * ROUND)
        for car in fleet:
            if car.arrive <= now and car not in here and car not in done:
                car.transaction = len(done) + len(here) + 1
                here.append(car)
                view.apply(f"station/{car.station}", _started(car, now), now)
                need = ChargingNeedsSet(
                    station=car.station,
                    connector=1,
                    energy_wh=car.need_wh,
                    departure=car.depart.isoformat(),
                    max_current=car.max_current,
                    source="api",
                )
                view.apply(f"needs/{car.station}", need, now)
        for car in [c for c in here if c.depart <= now]:
            here.remove(car)
            done.append(car)
            view.apply(f"station/{car.station}", _stopped(car, now), now)
            sent.pop(car.key, None)
        load = [non_ev(now)] * 3
        for car in here:
            view.apply(f"station/{car.station}", _sampled(car), now)
            for p in car.phases:
                load[p - 1] += car.draw
        view.apply("meter/grid", _reading((load[0], load[1], load[2])), now)
        cpu = time.process_time()
        decision = decide(view, now, sent)
        planned = Planned(decision, {}, None)
        inputs = plan_inputs(view, decision, now)
        if inputs is not None:
            key = plan_key(inputs, decision, now, planner)
            if key != made_for:
                made, made_for = make_plan(planner, now, decision, inputs), key
            assert made is not None
            planned = fit_plan(view.site, now, decision, inputs, made, valid_for=ROUND)
            held = (planned.record or {}).get("connectors", ())
            paused += sum(1 for c in held if c["planned"] > 0 and c["target"] == 0)
        planning.append(time.process_time() - cpu)
        targets = planned.decision.targets
        sent = dict(targets)
        load = [non_ev(now)] * 3
        for car in here:
            full = car.taken_wh >= car.need_wh
            car.draw = 0.0 if full else min(targets.get(car.key, 0.0), car.max_current)
            wh = car.draw * VOLTAGE * len(car.phases) * ROUND / 3600
            car.taken_wh += wh
            cost += wh / 1000 * _price(now)
            for p in car.phases:
                load[p - 1] += car.draw
        limit = EVENING_LIMIT if START + timedelta(hours=1) <= now < START + timedelta(hours=5) else LIMIT
        over += any(amps > limit + 1e-6 for amps in load)
        if circuits:
            on_row = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
            for car in here:
                for p in car.phases:
                    on_row[row_of[car.key]][p - 1] += car.draw
            circuit_over += any(amps > ROW_LIMIT + 1e-6 for row in on_row for amps in row)
        peak = max(peak, sum(load) * VOLTAGE / 1000)
    done += here
    met = [c for c in done if c.taken_wh >= 0.99 * c.need_wh]
    short = sum(max(0.0, c.need_wh - c.taken_wh) for c in done) / 1000
    return {
        "mode": mode.value,
        "needs": len(done),
        "met": len(met),
        "met_fraction": round(len(met) / len(done), 3),
        "short_kwh": round(short, 1),
        "needed_kwh": round(sum(c.need_wh for c in done) / 1000, 1),
        "delivered_kwh": round(sum(min(c.taken_wh, c.need_wh) for c in done) / 1000, 1),
        "cost": round(cost, 2),
        "cost_per_kwh": round(cost / (sum(c.taken_wh for c in done) / 1000), 4),
        "peak_kw": round(peak, 1),
        "rounds_over_limit": over,
        "rounds_over_a_circuit": circuit_over,
        "plans_paused_by_the_round": paused,
        "round_cpu_ms": {
            "median": round(statistics.median(planning) * 1000, 1),
            "max": round(max(planning) * 1000, 1),
        },
    }


def _started(car: Car, at: datetime) -> TransactionStarted:
    return TransactionStarted(
        transaction_id=car.transaction,
        connector=1,
        id_token=IdToken("TAG"),
        meter_start_wh=car.taken_wh,
        timestamp=at.isoformat(),
        reservation_id=None,
        status="Accepted",
        expiry=None,
        parent=None,
    )


def _stopped(car: Car, at: datetime) -> TransactionStopped:
    return TransactionStopped(
        transaction_id=car.transaction,
        connector=1,
        known=True,
        id_token=None,
        start_id_token=None,
        meter_stop_wh=car.taken_wh,
        energy_wh=car.taken_wh,
        timestamp=at.isoformat(),
        reason="EVDisconnected",
        closed_by="station",
    )


def measure() -> dict[str, Any]:
    return {
        "cars": CARS,
        "limit_a": LIMIT,
        "evening_limit_a": EVENING_LIMIT,
        "round_s": ROUND,
        "hours": HOURS,
        "modes": [night(mode) for mode in (Optimizer.OFF, Optimizer.FASTEST, Optimizer.CHEAPEST)],
        "circuits": {
            "row_limit_a": ROW_LIMIT,
            "runs": [
                {"plan_sees": "the site alone", **night(Optimizer.CHEAPEST, circuits=True, blind=True)},
                {"plan_sees": "every circuit", **night(Optimizer.CHEAPEST, circuits=True)},
            ],
        },
    }


def main() -> None:
    print(measure())


if __name__ == "__main__":
    main()
