"""A round's planning step, sans I/O: the optimizer's plan for the connectors with charging needs,
fitted under the round's allocation.

Two halves, so the actor can make plans off its rounds: :func:`make_plan` (slow: the solver) plans
the needs in force, and :func:`fit_plan` (fast) applies the last plan made to a round;
:func:`plan_round` does both at once (tests, the bench). When the site has an ``optimizer`` and some
connectors wanting power have a need in force (set over the API or stated by a 2.0.1 EV, with
energy still to deliver and a departure ahead: :func:`plan_inputs`), they are

1. planned with :func:`actors.sites.optimizer.plan` over the site's horizon (slots aligned to
   multiples of ``plan_slot``), against the site's limits in force and every circuit's limits
   (:func:`branches_of`), its price curve and peak target, with the measured non-EV load plus what
   the connectors *without* needs were allocated as the load they must leave room for, at the site
   and on each circuit they are under (those keep the instantaneous allocation);
2. fitted: the round allocates again, with each planned connector's current held at its plan for
   the present slot (its minimum and maximum both that value; 0 when the plan pauses it) and the
   others as before:
   the held connectors are admitted at their plan where it fits every level (the plan fits them
   all as they were when it was made) and paused where it does not, and the others share what is left by
   the site's policy, so the room a plan leaves now (a ``cheapest`` car waiting for the night) goes
   to them. This second allocation is a full allocation over every level and phase, so the plan never
   takes a connector above what the allocation allows there: the guarantee is the allocation's own;
3. sent: each planned connector's plan becomes the profile's periods for the profile's validity: the
   present current, then the plan's later slots wherever they are lower, never higher. A profile
   never rises by itself: a rise the plan holds for a later slot goes out with the round at that
   slot (the actor wakes at each slot's start), so nothing a profile allows later can exceed what the
   allocation allowed when it was sent. The periods go through :func:`actors.charging.trim` (aligned
   to whole minutes, limits floored to 0.1 A).

The round event records the plan (:attr:`Planned.record`): the needs as planned, each connector's
currents per slot until its departure, what it can deliver and what stays unmet, the plan's present
current, the round's target and the periods sent, so a replay explains every figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from actors.charging import CompositePeriod, CompositeSchedule, Unit, trim, wire_time
from actors.sites.allocation import allocate, levels_of
from actors.sites.decide import Decision
from actors.sites.limits import SourceLimit
from actors.sites.model import PHASES, ConnectorId, Optimizer, Site
from actors.sites.needs import need_of, prices_of
from actors.sites.optimizer import (
    BaseLoad,
    Branch,
    Horizon,
    Mode,
    Need,
    Plan,
    PlanError,
    Price,
    Problem,
    Supply,
    plan,
)
from actors.sites.view import SiteView

MAX_PERIODS = 5  # periods in one planned profile: its validity rarely spans more than two slots
MIN_PERIOD = 60  # s: the shortest period a planned profile holds
STEP = 0.1  # A: what OCPP carries


@dataclass(frozen=True, slots=True)
class Planned:
    decision: Decision  # the round's decision, the plan applied to its targets
    periods: Mapping[ConnectorId, tuple[tuple[int, float], ...]]  # (s from the round, A) per planned one
    record: dict[str, Any] | None  # what the round event holds of the plan (None: nothing planned)


def _floor(value: float) -> float:
    return round(math.floor(value / STEP + 1e-9) * STEP, 1)


def active_needs(view: SiteView, decision: Decision, now: datetime) -> tuple[Need, ...]:
    """The needs of connectors wanting power now, with energy left and a departure ahead, as the
    optimizer takes them: the energy still to deliver, at least the site's ``min_current``, at most
    what the connector may draw, on the phases the round counts it on."""
    site = view.site
    found = []
    for demand in decision.demands:
        event = view.needs.get(demand.connector)
        if event is None:
            continue
        need = need_of(event, site)
        left = view.remaining(demand.connector)
        minimum = max(site.min_current, need.min_current)
        cap = min(need.max_current, demand.max_current)
        if need.departure <= now or left < 1.0 or cap < minimum:
            continue
        found.append(
            replace(need, energy_wh=left, max_current=cap, min_current=minimum, phases=demand.phases)
        )
    return tuple(found)


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What a round's plan reads from the view, taken at once so it can be planned off the actor's
    thread while the view moves on."""

    needs: tuple[Need, ...]
    limits: tuple[SourceLimit, ...]
    prices: tuple[Price, ...]


def plan_inputs(view: SiteView, decision: Decision, now: datetime) -> PlanInputs | None:
    """The inputs of the round's plan, or None when there is nothing to plan (no optimizer, the
    failsafe, no need in force)."""
    if view.site.planning.mode is Optimizer.OFF or decision.failsafe or decision.allocation is None:
        return None
    needs = active_needs(view, decision, now)
    if not needs:
        return None
    prices = prices_of(view.prices) if view.prices is not None else ()
    return PlanInputs(needs, tuple(view.limits.values()), prices)


def plan_round(view: SiteView, now: datetime, decision: Decision, *, valid_for: float) -> Planned:
    """The round at ``now`` with a plan made for it applied (see the module docstring)."""
    inputs = plan_inputs(view, decision, now)
    if inputs is None:
        return Planned(decision, {}, None)
    made = make_plan(view.site, now, decision, inputs)
    return fit_plan(view.site, now, decision, inputs, made, valid_for=valid_for)


@dataclass(frozen=True, slots=True)
class Made:
    """A plan as made at ``at``: its problem and result, or the solver's error."""

    at: datetime
    problem: Problem | None  # None: the plan failed before its problem was built
    result: Plan | None
    base: tuple[float, float, float]  # A per phase it planned around (non-EV plus the unplanned)
    note: str | None = None
    error: str | None = None


def plan_key(inputs: PlanInputs, decision: Decision, now: datetime, site: Site) -> tuple[object, ...]:
    """What a plan depends on, coarsely: a round whose key differs from the last plan's asks for a
    new one (a need set, cleared or 0.5 kWh further on, a limit, a price curve, the base load at the
    site or on a circuit by 2 A, a new slot)."""
    needs = tuple(
        (n.connector, n.departure, n.max_current, n.min_current, n.phases, round(n.energy_wh / 500))
        for n in inputs.needs
    )
    base = tuple(round(value / 2) for value in _base(inputs, decision))
    circuits = tuple(
        (b.name, b.connectors, tuple(round(value / 2) for value in b.base))
        for b in branches_of(site, inputs, decision)
    )
    slot = int(now.timestamp() // site.planning.slot)
    return (needs, inputs.limits, inputs.prices, base, circuits, slot)


def _base(inputs: PlanInputs, decision: Decision) -> tuple[float, float, float]:
    planned = {need.connector for need in inputs.needs}
    base = [value or 0.0 for value in decision.non_ev or (0.0, 0.0, 0.0)]
    for demand in decision.demands:
        if demand.connector not in planned:
            for phase in demand.phases:
                base[phase - 1] += decision.targets[demand.connector]
    return (base[0], base[1], base[2])


def branches_of(site: Site, inputs: PlanInputs, decision: Decision) -> tuple[Branch, ...]:
    """Each circuit of ``site`` as the optimizer takes it: the planned connectors under it (on it or
    on a circuit below it), its configured limits, and the current the round allocated to the
    connectors under it that are not planned, per phase, as the load the plan must leave room for.
    (Circuits have no non-EV measurement of their own: the allocation takes them as EV load only.)"""
    if not site.circuits:
        return ()
    parent = {circuit.name: circuit.parent for circuit in site.circuits}
    planned = {need.connector for need in inputs.needs}
    under: dict[str, set[ConnectorId]] = {name: set() for name in parent}
    base: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name in parent}
    for demand in decision.demands:
        level: str | None = demand.level
        while level in parent:
            if demand.connector in planned:
                under[level].add(demand.connector)
            else:
                for phase in demand.phases:
                    base[level][phase - 1] += decision.targets.get(demand.connector, 0.0)
            level = parent[level]
    return tuple(
        Branch(
            circuit.name,
            frozenset(under[circuit.name]),
            circuit.max_current,
            circuit.max_power,
            (base[circuit.name][0], base[circuit.name][1], base[circuit.name][2]),
        )
        for circuit in site.circuits
        if under[circuit.name]
    )


def make_plan(site: Site, now: datetime, decision: Decision, inputs: PlanInputs) -> Made:
    """Plan ``inputs`` over the site's horizon from the slot holding ``now`` (pure and slow: the
    actor runs it in a worker thread, off its rounds)."""
    settings, prices = site.planning, inputs.prices
    base = _base(inputs, decision)
    start = now - timedelta(seconds=now.timestamp() % settings.slot)
    horizon = Horizon(start, settings.slot, settings.slots)
    mode = Mode(settings.mode.value)
    note = None
    if mode is Mode.CHEAPEST and not prices:
        mode, note = Mode.FASTEST, "no price curve: planned fastest"
    problem = Problem(
        horizon,
        inputs.needs,
        Supply.of(site, inputs.limits),
        (BaseLoad(start, base),),
        prices,
        mode,
        settings.peak_target,
        branches_of(site, inputs, decision),
    )
    try:
        return Made(now, problem, plan(problem), base, note)
    except PlanError as error:
        return Made(now, problem, None, base, note, str(error))


def fit_plan(
    site: Site, now: datetime, decision: Decision, inputs: PlanInputs, made: Made, *, valid_for: float
) -> Planned:
    """The round at ``now`` with ``made`` applied to the connectors that have a need now and a plan in
    it (a need newer than the plan keeps the allocation until the next plan): their currents for the
    slot holding ``now``, held in a second allocation over every level."""
    result = made.result
    if result is None:
        return Planned(decision, {}, {"error": made.error, "made": wire_time(made.at)})
    horizon = result.horizon
    index = int((now - horizon.start).total_seconds() // horizon.slot)
    if index >= horizon.slots:
        return Planned(decision, {}, None)
    needs = {need.connector: need for need in inputs.needs if result.of(need.connector) is not None}
    present: dict[ConnectorId, float] = {}
    for key, need in needs.items():
        found = result.of(key)
        value = 0.0 if found is None else _floor(found.currents[index])
        present[key] = value if value >= need.min_current else 0.0
    # The planned connectors held at their plan (admitted at it or paused), the others as they were:
    # one allocation over every level, so the round's guarantee is the allocation's own.
    demands = [
        demand
        if demand.connector not in needs
        else replace(demand, max_current=present[demand.connector], min_current=present[demand.connector])
        for demand in decision.demands
        if present.get(demand.connector, 1.0) > 0
    ]
    non_ev = {site.id: decision.non_ev} if decision.non_ev else None
    levels = levels_of(site, non_ev=non_ev, in_force=decision.in_force)
    allocation = allocate(levels, demands, site.policy, voltage=site.voltage)
    targets = {d.connector: allocation.currents.get(d.connector, 0.0) for d in decision.demands}
    periods = {key: _periods(result, key, targets[key], now, valid_for, index) for key in needs}
    record = _record(made, index, inputs, present, targets, periods)
    return Planned(replace(decision, targets=targets, allocation=allocation), periods, record)


def _periods(
    result: Plan, key: ConnectorId, amps: float, now: datetime, valid_for: float, index: int
) -> tuple[tuple[int, float], ...]:
    """The profile's periods from ``now`` for ``valid_for`` s: ``amps``, then each later slot's plan
    where it is lower (never higher), trimmed."""
    found = result.of(key)
    horizon = result.horizon
    duration = max(1, round(valid_for))
    limits = [(0, amps)]
    if found is not None:
        for later in range(index + 1, len(found.currents)):
            offset = round((horizon.at(later) - now).total_seconds())
            if offset >= duration:
                break
            value = min(limits[-1][1], found.currents[later])
            if value < limits[-1][1]:
                limits.append((offset, value))
    phases = found.phases if found is not None else len(PHASES)
    schedule = CompositeSchedule(
        now,
        duration,
        Unit.A,
        tuple(CompositePeriod(offset, Decimal(repr(value)), phases) for offset, value in limits),
    )
    trimmed = trim(schedule, max_periods=MAX_PERIODS, min_period=min(MIN_PERIOD, duration))
    return tuple((p.start, float(p.limit or 0)) for p in trimmed.periods)


def _record(
    made: Made,
    index: int,
    inputs: PlanInputs,
    present: Mapping[ConnectorId, float],
    targets: Mapping[ConnectorId, float],
    periods: Mapping[ConnectorId, tuple[tuple[int, float], ...]],
) -> dict[str, Any]:
    result, problem = made.result, made.problem
    assert result is not None and problem is not None  # fit_plan records a failed plan by its error
    horizon = result.horizon
    planned_for = {need.connector: need for need in problem.needs}
    connectors = []
    for key in periods:
        need, found = planned_for[key], result.of(key)
        assert found is not None
        until = math.ceil((need.departure - horizon.start).total_seconds() / horizon.slot)
        connectors.append(
            {
                "station": key.station,
                "connector": key.connector,
                "energy_wh": round(need.energy_wh, 1),
                "departure": wire_time(need.departure),
                "max_current": need.max_current,
                "min_current": need.min_current,
                "currents": [round(v, 1) for v in found.currents[index : max(index + 1, until)]],
                "delivered_wh": round(found.delivered_wh, 1),
                "unmet_wh": round(found.unmet_wh, 1),
                "planned": present[key],
                "target": targets[key],
                "periods": [list(p) for p in periods[key]],
            }
        )
    record: dict[str, Any] = {
        "mode": problem.mode.value,
        "made": wire_time(made.at),
        "start": wire_time(horizon.at(index)),
        "slot": horizon.slot,
        "slots": horizon.slots - index,
        "base": [round(v, 1) for v in made.base],
        "peak_target": problem.peak_target,
        "peak": round(result.peak, 1),
        "cost": round(result.cost, 4),
        "connectors": connectors,
        "unplanned": [
            {"station": n.connector.station, "connector": n.connector.connector}
            for n in inputs.needs
            if n.connector not in periods
        ],
    }
    if made.note is not None:
        record["note"] = made.note
    return record
