"""One allocation round, sans I/O: the current each connector of a site may draw, per phase.

Inputs are the site's levels (the site and its circuits, each with its limits in force and the
measured non-EV load on it), the connectors that want power (their level, phases, minimum and
maximum current, priority and arrival) and the policy. The output gives each connector one current,
in A on each phase it uses, such that at every level and on every phase the EV allocations under
that level plus its non-EV load stay within ``max_current``, and within ``max_power`` over all
phases (amperes times ``voltage``, summed over the phases each connector uses).

How it decides:

1. **Admission.** Connectors are taken in the policy's order (``equal`` and ``priority``: higher
   priority, then earlier arrival; ``fifo``: earlier arrival, then higher priority). Each gets its
   ``min_current`` if that still fits every level above it; one that does not fit is **paused**
   (0 A): an EV offered less than its minimum would not charge, and the capacity serves others.
2. **Filling.** Above their minimums, connectors rise together (water-filling) until a level they
   are on is full or they reach their own maximum. ``equal`` fills everyone at once (so connectors on
   the same levels with the same caps end equal); ``priority`` admits and fills one priority at a
   time, highest first; ``fifo`` one arrival at a time, earliest first.
3. **Rounding.** Currents are rounded down to ``step`` (0.1 A, what OCPP carries), never below the
   connector's minimum, so rounding only ever lowers a sum.

**Non-EV load above a limit.** When the non-EV load alone reaches a level's limit, nothing is left
for the EVs under it: they are all paused, and the round reports the level, the phase and the excess
in :attr:`Allocation.overloads`. Chargers cannot shed load they do not draw, so that excess is for the
operator (and an alert), not for this module. A level whose non-EV load is unknown (None, e.g. a
circuit without its own meter) is taken to carry EV load only.

Floats throughout (a round over 1,000 connectors must stay cheap); comparisons allow ``EPSILON``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from actors.sites.limits import LimitsInForce
from actors.sites.model import PHASES, ConnectorId, Policy, Site

EPSILON = 1e-9
POWER = 0  # the phase number standing for a level's power limit, over all phases

PhaseLoad = tuple[float | None, float | None, float | None]  # A on L1, L2, L3; None: not measured


@dataclass(frozen=True, slots=True)
class Level:
    """The site (``parent`` None) or a circuit, with the limits in force and its non-EV load."""

    name: str
    parent: str | None = None
    max_current: float | None = None
    max_power: float | None = None
    non_ev: PhaseLoad = (None, None, None)


@dataclass(frozen=True, slots=True)
class Demand:
    """A connector that wants power in this round (connectors not given get nothing)."""

    connector: ConnectorId
    level: str  # the deepest level it is on: a circuit's name or the site's id
    max_current: float  # A per phase it may draw now: the lowest of connector, cable and vehicle
    min_current: float = 6.0
    phases: tuple[int, ...] = PHASES
    priority: int = 0
    arrival: float = 0.0  # when it started wanting power (fifo order), any clock

    def __post_init__(self) -> None:
        if not self.min_current > 0 or not 0 <= self.max_current < math.inf:
            raise ValueError(f"{self.connector}: min_current must be positive, max_current finite and >= 0")
        used = set(self.phases)
        if not used or not used <= set(PHASES) or len(used) != len(self.phases):
            raise ValueError(f"{self.connector}: phases must be distinct values of {PHASES}")


@dataclass(frozen=True, slots=True)
class Overload:
    """Non-EV load alone above a limit: ``phase`` 1..3 for a current limit, 0 for the power limit."""

    level: str
    phase: int
    excess: float  # A, or W for the power limit


@dataclass(frozen=True, slots=True)
class Allocation:
    currents: Mapping[ConnectorId, float]  # A on each phase the connector uses; 0: paused
    phases: Mapping[ConnectorId, tuple[int, ...]]
    paused: frozenset[ConnectorId] = frozenset()
    overloads: tuple[Overload, ...] = ()

    def per_phase(self, connector: ConnectorId) -> tuple[float, float, float]:
        """A on L1, L2, L3 for ``connector``."""
        current = self.currents.get(connector, 0.0)
        used = self.phases.get(connector, ())
        l1, l2, l3 = (current if phase in used else 0.0 for phase in PHASES)
        return l1, l2, l3


@dataclass(slots=True)
class _Constraint:
    level: str
    phase: int
    slack: float
    members: list[tuple[int, float]] = field(default_factory=list)  # (demand index, coefficient)


def levels_of(
    site: Site,
    *,
    non_ev: Mapping[str, PhaseLoad] | None = None,
    in_force: LimitsInForce | None = None,
) -> list[Level]:
    """The site's levels for a round: the site's limits in force (``in_force``, from
    :func:`actors.sites.limits.limits_in_force`, which includes the configured ones; left out: the
    configured ones alone), each circuit's configured limits, and the non-EV load measured per level."""
    loads = non_ev or {}
    site_current, site_power = site.max_current, site.max_power
    if in_force is not None:
        site_current = None if in_force.current is None else in_force.current.value
        site_power = None if in_force.power is None else in_force.power.value
    levels = [Level(site.id, None, site_current, site_power, loads.get(site.id, (None, None, None)))]
    for circuit in site.circuits:
        levels.append(
            Level(
                circuit.name,
                circuit.parent or site.id,
                circuit.max_current,
                circuit.max_power,
                loads.get(circuit.name, (None, None, None)),
            )
        )
    return levels


def _order(demands: Sequence[Demand], policy: Policy) -> list[list[int]]:
    """Indices of ``demands`` in admission order, grouped in the tiers that are filled together."""

    def rank(i: int) -> tuple[float, float, ConnectorId]:
        d = demands[i]
        return (
            (d.arrival, -d.priority, d.connector)
            if policy is Policy.FIFO
            else (-d.priority, d.arrival, d.connector)
        )

    def tier(i: int) -> float:
        if policy is Policy.EQUAL:
            return 0
        return demands[i].arrival if policy is Policy.FIFO else demands[i].priority

    tiers: list[list[int]] = []
    last: float | None = None
    for index in sorted(range(len(demands)), key=rank):
        if not tiers or tier(index) != last:
            tiers.append([])
            last = tier(index)
        tiers[-1].append(index)
    return tiers


def _constraints(
    levels: Sequence[Level], demands: Sequence[Demand], voltage: float
) -> tuple[list[_Constraint], list[list[tuple[int, float]]], list[Overload]]:
    """Every (level, phase) and (level, power) limit with its room left after non-EV load, and for
    each demand the constraints it counts in (with how much one ampere of it weighs there)."""
    by_name = {level.name: level for level in levels}
    constraints: list[_Constraint] = []
    index: dict[tuple[str, int], int] = {}
    overloads: list[Overload] = []
    for level in levels:
        known = [load or 0.0 for load in level.non_ev]
        limits = []
        if level.max_current is not None:
            limits += [(phase, level.max_current - known[phase - 1]) for phase in PHASES]
        if level.max_power is not None:
            limits.append((POWER, level.max_power - voltage * sum(known)))
        for phase, room in limits:
            if room < 0:
                overloads.append(Overload(level.name, phase, -room))
            index[level.name, phase] = len(constraints)
            constraints.append(_Constraint(level.name, phase, room))
    chains: dict[str, list[str]] = {}

    def chain(name: str) -> list[str]:
        """``name`` and the levels above it, up to the root."""
        if name not in chains:
            path = [name]
            while (parent := by_name[path[-1]].parent) is not None:
                if parent not in by_name:
                    raise ValueError(f"level {path[-1]!r}: unknown parent {parent!r}")
                if parent in path:
                    raise ValueError(f"levels {' -> '.join([*path, parent])} form a cycle")
                path.append(parent)
            chains[name] = path
        return chains[name]

    weights: list[list[tuple[int, float]]] = []
    for i, demand in enumerate(demands):
        if demand.level not in by_name:
            raise ValueError(f"{demand.connector}: unknown level {demand.level!r}")
        mine: list[tuple[int, float]] = []
        for name in chain(demand.level):
            for phase in demand.phases:
                j = index.get((name, phase))
                if j is not None:
                    mine.append((j, 1.0))
            j = index.get((name, POWER))
            if j is not None:
                mine.append((j, voltage * len(demand.phases)))
        for j, weight in mine:
            constraints[j].members.append((i, weight))
        weights.append(mine)
    return constraints, weights, overloads


def _fill(
    tier: Iterable[int],
    demands: Sequence[Demand],
    current: list[float],
    constraints: list[_Constraint],
    weights: list[list[tuple[int, float]]],
) -> None:
    """Raise the admitted members of ``tier`` together from their minimums (progressive filling):
    a member stops when one of its constraints has no room left or at its own maximum."""
    members = [i for i in tier if current[i] > 0]
    if not members:
        return
    level = min(demands[i].min_current for i in members)
    waiting = [(demands[i].min_current, i) for i in members if demands[i].min_current > level + EPSILON]
    heapq.heapify(waiting)
    caps: list[tuple[float, int]] = []
    rate: dict[int, float] = {}  # constraint -> how fast it fills, for those with a growing member
    full: set[int] = set()
    growing: set[int] = set()

    def start(i: int) -> None:
        if demands[i].max_current <= level + EPSILON or any(j in full for j, _ in weights[i]):
            return
        growing.add(i)
        heapq.heappush(caps, (demands[i].max_current, i))
        for j, weight in weights[i]:
            rate[j] = rate.get(j, 0.0) + weight

    def stop(i: int) -> None:
        growing.discard(i)
        current[i] = min(level, demands[i].max_current)
        for j, weight in weights[i]:
            left = rate[j] - weight
            if left > EPSILON:
                rate[j] = left
            else:
                del rate[j]

    for i in members:
        if demands[i].min_current <= level + EPSILON:
            start(i)
    for j in list(rate):
        if constraints[j].slack <= EPSILON:
            full.add(j)
            for i, _ in constraints[j].members:
                if i in growing:
                    stop(i)
    while growing or waiting:
        step = min((constraints[j].slack / r for j, r in rate.items()), default=math.inf)
        while caps and caps[0][1] not in growing:
            heapq.heappop(caps)
        if caps:
            step = min(step, caps[0][0] - level)
        if waiting:
            step = min(step, waiting[0][0] - level)
        step = max(step, 0.0)
        level += step
        for j, r in rate.items():
            constraints[j].slack -= r * step
        for j in [j for j in rate if constraints[j].slack <= EPSILON]:
            full.add(j)
            for i, _ in constraints[j].members:
                if i in growing:
                    stop(i)
        while caps and caps[0][0] <= level + EPSILON:
            _, i = heapq.heappop(caps)
            if i in growing:
                stop(i)
        while waiting and waiting[0][0] <= level + EPSILON:
            start(heapq.heappop(waiting)[1])


def allocate(
    levels: Sequence[Level],
    demands: Sequence[Demand],
    policy: Policy = Policy.EQUAL,
    *,
    voltage: float = 230.0,
    step: float | None = 0.1,
) -> Allocation:
    """The currents for one round. ``levels`` must hold exactly one root (the site); ``step`` None
    leaves currents unrounded."""
    constraints, weights, overloads = _constraints(levels, demands, voltage)
    current = [0.0] * len(demands)
    for tier in _order(demands, policy):
        for i in tier:
            demand = demands[i]
            if demand.max_current + EPSILON < demand.min_current:
                continue  # it cannot draw its minimum at all: paused
            need = demand.min_current
            if all(constraints[j].slack + EPSILON >= need * weight for j, weight in weights[i]):
                current[i] = need
                for j, weight in weights[i]:
                    constraints[j].slack -= need * weight
        _fill(tier, demands, current, constraints, weights)
    if step is not None:
        current = [
            max(round(math.floor(value / step + EPSILON) * step, 9), demands[i].min_current)
            if value > 0
            else 0.0
            for i, value in enumerate(current)
        ]
    return Allocation(
        currents={d.connector: current[i] for i, d in enumerate(demands)},
        phases={d.connector: d.phases for d in demands},
        paused=frozenset(d.connector for i, d in enumerate(demands) if current[i] == 0),
        overloads=tuple(overloads),
    )
