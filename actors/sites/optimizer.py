"""The charging optimizer: each connector's current, slot by slot over the next hours, so that EV
charging needs are met by their departure wherever the site's limits allow.

Pure: plain frozen dataclasses in (:class:`Problem`), a :class:`Plan` out; no trio, no store. The
site actor calls :func:`plan` whenever needs, limits, prices or measurements change, and sends each
connector's plan as a TxProfile (:func:`tx_profile`, trimmed by :mod:`actors.charging.trim`).

The problem is a linear program, solved by HiGHS through ``scipy.optimize.linprog``. Variables are
the current (A per phase) each connector may draw in each slot before its departure, between 0 and
its maximum. Constraints, in every slot: the EV currents on each phase plus the non-EV load on it stay
within the current limit in force; their power plus the non-EV power stays within the power limit in
force; the same on every circuit (:class:`Branch`: its connectors, those of the circuits under it
included, against its own limits less the load it must leave room for); and no connector is planned
more energy than it needs. Limits in force come from the site's configuration and the limits set by
sources (:mod:`actors.sites.limits`), taken at their lowest over each slot; the non-EV load at its
highest. Every step after the LP (the minimum currents, the safety net, the last fill) checks the
same levels, so a plan fits every circuit as well as the grid connection.

Goals, in strict order (one LP whose weights rank them: see the comment above :func:`_solve`):

1. deliver as much of the needed energy as the limits allow;
2. with a ``peak_target`` (W), keep the site's highest load (EV plus non-EV, averaged over a slot) at
   or under the target: it gives way only to energy due by a departure;
3. the mode: ``fastest`` delivers each kWh as early as it can (energy weighted by its slot's index);
   ``cheapest`` minimises its cost against the price curve (ties go to the earlier slot).

A connector's ``min_current`` is not linear (0 or at least the minimum): after the LP, a slot planned
below it is raised to it, taking the room from connectors above their own minimum where the limits
leave none, or paused (0 A); the LP is solved again with those slots fixed, at most :data:`ROUNDS`
times, and a last pass gives whatever room is left to connectors still short of their need. Pausing
and taking only move load within a slot's room, so every limit holds whatever the rounding did; it
can leave energy unmet (a heuristic: the best turn-taking at the minimum is a mixed-integer problem),
which the plan reports per connector. Needs outrank the peak target here too.

When the non-EV load alone exceeds a limit the EV connectors get nothing in that slot (the limit
cannot be met by them): the guarantee is ``EV load <= max(0, limit - non-EV load)``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from actors.charging import CompositePeriod, CompositeSchedule, Unit, trim, wire_time
from actors.charging.model import TENTH
from actors.sites.limits import SourceLimit, limits_in_force
from actors.sites.model import PHASES, ConnectorId, Site

ROUNDS = 4  # LP solves for min_current: the first, then re-solves with paused slots closed
_MARGIN = 1e-6  # A (or kW): rows are tightened by this so the solver's tolerance never crosses a limit
_ZERO = 1e-7  # A: solver noise below this is no current


class Mode(enum.StrEnum):
    FASTEST = "fastest"  # every kWh as early as the limits allow
    CHEAPEST = "cheapest"  # the lowest cost against the price curve, still by departure


class PlanError(ValueError):
    """A problem that cannot be planned as given (or a solver failure), with the reason."""


@dataclass(frozen=True, slots=True)
class Need:
    """A vehicle's charging need on one connector: ``energy_wh`` by ``departure``."""

    connector: ConnectorId
    energy_wh: float
    departure: datetime
    max_current: float  # A per phase: the lower of the connector's, the cable's and the vehicle's
    phases: tuple[int, ...] = PHASES  # the site's phases it draws on (1..3)
    min_current: float = 0.0  # A: a slot that cannot have this is paused (0 A)


@dataclass(frozen=True, slots=True)
class Horizon:
    """``slots`` slots of ``slot`` seconds from ``start``."""

    start: datetime
    slot: int = 900
    slots: int = 96

    def at(self, index: int) -> datetime:
        return self.start + timedelta(seconds=index * self.slot)


@dataclass(frozen=True, slots=True)
class Supply:
    """What the grid connection may carry: its configured limits and the limits set by sources."""

    max_current: float | None = None  # A per phase
    max_power: float | None = None  # W over all phases
    limits: tuple[SourceLimit, ...] = ()
    voltage: float = 230.0

    @classmethod
    def of(cls, site: Site, limits: Sequence[SourceLimit] = ()) -> Supply:
        return cls(site.max_current, site.max_power, tuple(limits), site.voltage)


@dataclass(frozen=True, slots=True)
class Branch:
    """A circuit under the grid connection: every connector on it (its sub-circuits' included, so a
    nested tree is one branch per circuit), its configured limits and the load the EVs planned must
    leave room for on it (A per phase: non-EV load measured there, connectors not planned)."""

    name: str
    connectors: frozenset[ConnectorId]
    max_current: float | None = None  # A per phase
    max_power: float | None = None  # W over all phases
    base: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class BaseLoad:
    """The non-EV load (A on L1, L2, L3) from ``start`` until the next step; the first holds before."""

    start: datetime
    currents: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Price:
    """The energy price (per kWh, any currency) from ``start`` until the next step; the first holds
    before."""

    start: datetime
    price: float


@dataclass(frozen=True, slots=True)
class Problem:
    horizon: Horizon
    needs: tuple[Need, ...]
    supply: Supply
    base_load: tuple[BaseLoad, ...] = ()
    prices: tuple[Price, ...] = ()
    mode: Mode = Mode.FASTEST
    peak_target: float | None = None  # W: the site's load (EV plus non-EV) to stay under
    branches: tuple[Branch, ...] = ()  # the circuits, each with its own limits


@dataclass(frozen=True, slots=True)
class ConnectorPlan:
    connector: ConnectorId
    phases: int  # how many phases it draws on
    currents: tuple[float, ...]  # A per phase in each slot (0: paused)
    delivered_wh: float  # what the vehicle takes by its departure if it draws what it may until full
    unmet_wh: float  # the need less that
    cost: float  # of the delivered energy, at the slots' prices (0 without prices)


@dataclass(frozen=True, slots=True)
class Plan:
    horizon: Horizon
    connectors: tuple[ConnectorPlan, ...]
    load: tuple[tuple[float, float, float], ...]  # A per phase in each slot, EV plus non-EV
    power: tuple[float, ...]  # W in each slot, EV plus non-EV
    cost: float

    def of(self, connector: ConnectorId) -> ConnectorPlan | None:
        return next((c for c in self.connectors if c.connector == connector), None)

    @property
    def peak(self) -> float:
        return max(self.power, default=0.0)


# -- the inputs, slot by slot ------------------------------------------------------------------------

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class _Slots:
    """The problem's time-varying inputs, one row per slot; the levels are the grid connection (0)
    then each branch."""

    phase_room: Array  # (levels, slots, 3): A the current limit leaves the EVs on each phase (inf: none)
    power_room: Array  # (levels, slots): W the power limit leaves the EVs (inf: no limit)
    member: Array  # (levels, needs): 1 where the need's connector is under the level
    base: Array  # (slots, 3): the highest non-EV A per phase during the slot at the grid connection
    price: Array  # (slots,): the slot's mean price per kWh (0 without prices)


def _changes(limits: Sequence[SourceLimit]) -> list[datetime]:
    points: list[datetime] = []
    for limit in limits:
        points += [m for m in (limit.valid_from, limit.valid_until) if m is not None]
        points += [start for start, _ in limit.schedule]
    return sorted(set(points))


def _step_index(starts: Sequence[datetime], moment: datetime) -> int:
    """Which step holds at ``moment``: the last starting at or before it, the first before any."""
    found = 0
    for i, start in enumerate(starts):
        if start <= moment:
            found = i
    return found


def _slots(problem: Problem) -> _Slots:
    """The lowest limits in force during each slot (at its start and wherever one changes inside it),
    the highest non-EV load, the mean price."""
    horizon, supply = problem.horizon, problem.supply
    changes = _changes(supply.limits)
    base_starts = [b.start for b in problem.base_load]
    price_starts = [p.start for p in problem.prices]
    current = np.full(horizon.slots, np.inf)
    power = np.full(horizon.slots, np.inf)
    base = np.zeros((horizon.slots, 3))
    price = np.zeros(horizon.slots)
    for t in range(horizon.slots):
        begin, end = horizon.at(t), horizon.at(t + 1)
        for moment in [begin] + [m for m in changes if begin < m < end]:
            force = limits_in_force(
                supply.limits,
                moment,
                max_current=supply.max_current,
                max_power=supply.max_power,
                voltage=supply.voltage,
            )
            if force.current is not None:
                current[t] = min(current[t], force.current.value)
            if force.power is not None:
                power[t] = min(power[t], force.power.value)
        if problem.base_load:
            first = _step_index(base_starts, begin)
            last = _step_index(base_starts, end - timedelta(microseconds=1))
            base[t] = np.max([s.currents for s in problem.base_load[first : last + 1]], axis=0)
        price[t] = _mean_price(problem.prices, price_starts, begin, end)
    phase_rooms = [np.maximum(0.0, current[:, None] - base)]
    power_rooms = [np.maximum(0.0, power - base.sum(axis=1) * supply.voltage)]
    members = [np.ones(len(problem.needs))]
    for branch in problem.branches:
        amps = np.inf if branch.max_current is None else branch.max_current
        watts = np.inf if branch.max_power is None else branch.max_power
        below = np.array(branch.base, dtype=float)
        phase_rooms.append(np.broadcast_to(np.maximum(0.0, amps - below), (horizon.slots, 3)))
        power_rooms.append(np.full(horizon.slots, max(0.0, watts - below.sum() * supply.voltage)))
        members.append(np.array([float(n.connector in branch.connectors) for n in problem.needs]))
    return _Slots(
        np.stack(phase_rooms),
        np.stack(power_rooms),
        np.stack(members).reshape(len(members), len(problem.needs)),
        base,
        price,
    )


def _mean_price(prices: Sequence[Price], starts: Sequence[datetime], begin: datetime, end: datetime) -> float:
    """The time-weighted mean price over [begin, end)."""
    if not prices:
        return 0.0
    total = 0.0
    cursor = begin
    i = _step_index(starts, begin)
    while cursor < end:
        until = min(end, starts[i + 1]) if i + 1 < len(starts) else end
        total += prices[i].price * (until - cursor).total_seconds()
        cursor, i = until, i + 1
    return total / (end - begin).total_seconds()


# -- the linear program ------------------------------------------------------------------------------
#
# One LP, its goals ranked by weights (per kWh, per kW): a mode cost g in [0.001, 1.001] per kWh
# (never 0, so nothing is planned beyond a need), the peak excess at PEAK per kW (above what moving
# a peak's energy could save in mode cost: 1.001 per kWh, slot hours x slots of it per kW), and
# the delivered energy at DELIVERED per kWh (above the peak that one kWh more could raise, 1 / slot
# hours kW, and the mode cost it could displace, times a wide margin). Each weight dominates what the
# goals below it can gain, so the optimum is the lexicographic one.


@dataclass(frozen=True, slots=True)
class _Columns:
    """The current variables: one per (need, open slot)."""

    need: Array  # index into problem.needs
    slot: Array
    kwh: Array  # kWh per A over the slot's share before departure
    kw: Array  # kW per A
    lower: Array
    upper: Array


def _phases_mask(problem: Problem) -> Array:
    mask = np.zeros((len(problem.needs), 3))
    for c, need in enumerate(problem.needs):
        mask[c, [p - 1 for p in need.phases]] = 1.0
    return mask


def _columns(
    problem: Problem, slots: _Slots, closed: set[tuple[int, int]], forced: set[tuple[int, int]]
) -> _Columns:
    horizon, voltage = problem.horizon, problem.supply.voltage
    starts = np.arange(horizon.slots) * horizon.slot
    parts: list[tuple[Array, ...]] = []
    for c, need in enumerate(problem.needs):
        if need.energy_wh <= 0:
            continue
        left = (need.departure - horizon.start).total_seconds()
        share = np.clip((left - starts) / horizon.slot, 0.0, 1.0)
        n = len(need.phases)
        on = slots.member[:, c] > 0
        cap = np.minimum(
            np.min(slots.phase_room[on][:, :, [p - 1 for p in need.phases]], axis=(0, 2)),
            np.min(slots.power_room[on], axis=0) / (voltage * n),
        )
        cap = np.minimum(cap, need.max_current)
        usable = (share > 0) & (cap > _ZERO) & (cap >= need.min_current)
        ts = np.nonzero(usable)[0]
        ts = np.array([t for t in ts if (c, int(t)) not in closed], dtype=int)
        if not len(ts):
            continue
        per_ampere = voltage * n / 1000
        lower = np.array([need.min_current if (c, int(t)) in forced else 0.0 for t in ts])
        parts.append(
            (
                np.full(len(ts), c),
                ts,
                per_ampere * share[ts] * horizon.slot / 3600,
                np.full(len(ts), per_ampere),
                lower,
                cap[ts],
            )
        )
    if not parts:
        empty = np.zeros(0)
        return _Columns(empty.astype(int), empty.astype(int), empty, empty, empty, empty)
    need_i, slot_i, kwh, kw, lower, upper = (np.concatenate(column) for column in zip(*parts, strict=True))
    return _Columns(need_i, slot_i, kwh, kw, lower, upper)


def _solve(problem: Problem, slots: _Slots, cols: _Columns) -> Array:
    """The LP's currents (A) for ``cols``."""
    # Imported here, not at the top: scipy takes most of a second to import, and the API and the
    # server load this module (for the needs' types) whether or not a site ever plans.
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    horizon, voltage = problem.horizon, problem.supply.voltage
    n = len(cols.slot)
    needs = np.unique(cols.need)
    d_of = {int(c): n + i for i, c in enumerate(needs)}
    z = n + len(needs) if problem.peak_target is not None else None
    width = n + len(needs) + (1 if z is not None else 0)
    rows: list[Array] = []
    colix: list[Array] = []
    vals: list[Array] = []
    rhs: list[Array] = []
    offset = 0
    mask = _phases_mask(problem)
    for level in range(len(slots.member)):
        under = slots.member[level, cols.need] > 0
        if not under.any():
            continue
        # Current limits: one row per (slot, phase) with a limit.
        phase_room = slots.phase_room[level]
        limited = np.isfinite(phase_room)
        row_of = np.full((horizon.slots, 3), -1)
        row_of[limited] = offset + np.arange(int(limited.sum()))
        for p in range(3):
            on = under & (mask[cols.need, p] > 0) & limited[cols.slot, p]
            rows.append(row_of[cols.slot[on], p])
            colix.append(np.nonzero(on)[0])
            vals.append(np.ones(int(on.sum())))
        # A forced minimum may use the whole room: `_round` placed it there, within the real limits.
        floor = np.zeros((horizon.slots, 3))
        np.add.at(floor, cols.slot[under], (cols.lower[:, None] * mask[cols.need])[under])
        rhs.append(np.maximum(phase_room[limited] - _MARGIN, floor[limited]).clip(min=0.0))
        offset += int(limited.sum())
        # Power limits: one row per slot with one, in kW.
        power_room = slots.power_room[level]
        powered = np.isfinite(power_room)
        prow = np.full(horizon.slots, -1)
        prow[powered] = offset + np.arange(int(powered.sum()))
        on = under & powered[cols.slot]
        rows.append(prow[cols.slot[on]])
        colix.append(np.nonzero(on)[0])
        vals.append(cols.kw[on])
        floor_kw = np.zeros(horizon.slots)
        np.add.at(floor_kw, cols.slot[under], (cols.lower * cols.kw)[under])
        rhs.append(np.maximum(power_room[powered] / 1000 - _MARGIN, floor_kw[powered]).clip(min=0.0))
        offset += int(powered.sum())
    # Delivered energy: d_c - sum of its kWh <= 0, d_c bounded by the need.
    erow = {int(c): offset + i for i, c in enumerate(needs)}
    rows.append(np.array([erow[int(c)] for c in cols.need]))
    colix.append(np.arange(n))
    vals.append(-cols.kwh)
    rows.append(np.array([erow[int(c)] for c in needs]))
    colix.append(np.array([d_of[int(c)] for c in needs]))
    vals.append(np.ones(len(needs)))
    rhs.append(np.zeros(len(needs)))
    offset += len(needs)
    if z is not None and problem.peak_target is not None:
        # The peak: EV kW - z <= target - non-EV kW in every slot, the EV kW averaged over the slot
        # (a car leaving inside it draws for its share only; demand charges are on such averages).
        rows.append(offset + cols.slot)
        colix.append(np.arange(n))
        vals.append(cols.kwh / (horizon.slot / 3600))
        rows.append(offset + np.arange(horizon.slots))
        colix.append(np.full(horizon.slots, z))
        vals.append(np.full(horizon.slots, -1.0))
        rhs.append(problem.peak_target / 1000 - slots.base.sum(axis=1) * voltage / 1000)
        offset += horizon.slots
    matrix = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(colix))), shape=(offset, width)
    ).tocsc()
    hours = horizon.slot / 3600
    peak_weight = 2 * hours * horizon.slots + 1
    delivered_weight = 100 * (peak_weight / hours + 4)
    earliness = (cols.slot + 1) / horizon.slots
    if problem.mode is Mode.CHEAPEST:
        price = slots.price[cols.slot]
        spread = float(price.max() - price.min())
        relative = (price - price.min()) / spread if spread > 0 else np.zeros(n)
        goal = 0.001 + relative + 0.001 * earliness
    else:
        goal = 0.001 + earliness
    cost = np.concatenate(
        [goal * cols.kwh, np.full(len(needs), -delivered_weight), [peak_weight] if z else []]
    )
    bounds = np.zeros((width, 2))
    bounds[:n, 0], bounds[:n, 1] = cols.lower, cols.upper
    bounds[n : n + len(needs), 1] = [problem.needs[int(c)].energy_wh / 1000 for c in needs]
    if z is not None:
        bounds[z] = (0.0, np.inf)
    result = linprog(cost, A_ub=matrix, b_ub=np.concatenate(rhs), bounds=bounds, method="highs")
    if result.status != 0:
        raise PlanError(f"the solver gave up: {result.message}")
    currents: Array = np.clip(result.x[:n], cols.lower, cols.upper)
    return currents


# -- min_current, fitting, reporting ---------------------------------------------------------------


def _grid(problem: Problem, cols: _Columns, x: Array) -> Array:
    """The currents as a (needs, slots) array, solver noise dropped."""
    currents = np.zeros((len(problem.needs), problem.horizon.slots))
    currents[cols.need, cols.slot] = np.where(x > _ZERO, x, 0.0)
    return currents


def _loads(problem: Problem, slots: _Slots, currents: Array) -> tuple[Array, Array]:
    """The EV current on each phase (levels, slots, 3) and EV power in W (levels, slots) of
    ``currents`` at each level."""
    mask = _phases_mask(problem)
    per_need = currents * (mask.sum(axis=1) * problem.supply.voltage)[:, None]
    on_phase = np.stack([(currents * m[:, None]).T @ mask for m in slots.member])
    return on_phase, slots.member @ per_need


def _over(slots: _Slots, on_phase: Array, watts: Array) -> Array:
    """Per slot, the highest ratio of EV load to the room the limits leave it at any level (>1: over
    a limit)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        by_phase = np.where(on_phase > 0, on_phase / slots.phase_room, 0.0).max(axis=(0, 2))
        by_power = np.where(watts > 0, watts / slots.power_room, 0.0).max(axis=0)
    ratio: Array = np.nan_to_num(np.maximum(by_phase, by_power), nan=0.0, posinf=np.inf)
    return ratio


def _shrink(problem: Problem, slots: _Slots, currents: Array) -> None:
    """Scale down any slot the solver's tolerance left above a limit (a safety net: the rows are
    tightened by a margin wider than that tolerance); a current scaled below its minimum pauses."""
    minimum = np.array([n.min_current for n in problem.needs])[:, None]
    for _ in range(3):
        ratio = _over(slots, *_loads(problem, slots, currents))
        if not (ratio > 1).any():
            return
        factor = np.where(ratio > 1, np.where(np.isinf(ratio), 0.0, (1 - 1e-12) / ratio), 1.0)
        currents *= factor[None, :]
        currents[(currents < minimum) | (currents <= _ZERO)] = 0.0
    ratio = _over(slots, *_loads(problem, slots, currents))
    currents[:, ratio > 1] = 0.0


def _round(
    problem: Problem, slots: _Slots, currents: Array, forced: set[tuple[int, int]], borrow: bool
) -> tuple[set[tuple[int, int]], bool]:
    """Raise each slot planned below its connector's minimum to it, taking the room from others in the
    slot above their own minimum where the limits leave none (the next solve re-plans what they gave
    up), and mark it forced for that solve; pause it (0 A) where that cannot be done. The paused, and
    whether any was taken. Needs outrank the peak target: a raise may lift a slot above it."""
    voltage = problem.supply.voltage
    mask = _phases_mask(problem)
    minimum = np.array([n.min_current for n in problem.needs])
    on_phase, watts = _loads(problem, slots, currents)
    room_w = slots.power_room
    per_ampere = mask.sum(axis=1) * voltage  # W per A of each connector
    paused: set[tuple[int, int]] = set()
    borrowed = False

    def overs(c: int, t: int) -> list[tuple[int, float, bool]]:
        """Each level above ``c`` and how far slot ``t`` is over its rooms there, in A of ``c`` (<= 0:
        it fits), and whether that is its power limit."""
        found = []
        for level in np.nonzero(slots.member[:, c] > 0)[0]:
            # Against the real limits: the next solve relaxes its tightened rows up to the forced minima.
            for p in range(3):
                if mask[c, p]:
                    found.append((int(level), on_phase[level, t, p] - slots.phase_room[level, t, p], False))
            found.append((int(level), (watts[level, t] - room_w[level, t]) / per_ampere[c], True))
        return found

    def short(c: int, t: int) -> float:
        return float(max(gap for _, gap, _ in overs(c, t)))

    def move(c: int, t: int, amount: float) -> None:
        currents[c, t] += amount
        on_phase[:, t] += amount * slots.member[:, c, None] * mask[c]
        watts[:, t] += amount * per_ampere[c] * slots.member[:, c]

    for c, need in enumerate(problem.needs):
        for found in np.nonzero((currents[c] > 0) & (currents[c] < need.min_current))[0]:
            t = int(found)
            if need.min_current > need.max_current:
                move(c, t, -currents[c, t])
                paused.add((c, t))
                continue
            taken: list[tuple[int, float]] = []
            move(c, t, need.min_current - currents[c, t])
            donors = [int(d) for d in np.argsort(-currents[:, t]) if d != c and (mask[d] * mask[c]).any()]
            donors = donors if borrow else []
            for d in donors:
                over = [(level, gap, power) for level, gap, power in overs(c, t) if gap > 1e-12]
                if not over:
                    break
                # Only a donor under a level that is over helps; take what the worst of those needs.
                helps = [(gap, power) for level, gap, power in over if slots.member[level, d] > 0]
                spare = currents[d, t] - max(minimum[d], 0.0)
                if (d, t) in forced or spare <= 0 or not helps:
                    continue
                gap, power = max(helps)
                give = min(spare, gap * per_ampere[c] / per_ampere[d] if power else gap)
                move(d, t, -give)
                taken.append((d, give))
            if short(c, t) > 1e-12:
                for d, give in taken:
                    move(d, t, give)
                move(c, t, -currents[c, t])
                paused.add((c, t))
            else:
                forced.add((c, t))
                borrowed = borrowed or bool(taken)
    return paused, borrowed


def _fill(problem: Problem, slots: _Slots, currents: Array) -> None:
    """Give the room that rounding left unused to connectors still short of their need: slots in the
    mode's order (earliest, or cheapest), connectors by departure, each at least its minimum or not
    at all. Only ever raises, within every limit (needs outrank the peak target)."""
    horizon, voltage = problem.horizon, problem.supply.voltage
    mask = _phases_mask(problem)
    per_ampere = mask.sum(axis=1) * voltage
    on_phase, watts = _loads(problem, slots, currents)
    room_w = slots.power_room
    starts = np.arange(horizon.slots) * horizon.slot
    shares = np.zeros_like(currents)
    for c, need in enumerate(problem.needs):
        left = (need.departure - horizon.start).total_seconds()
        shares[c] = np.clip((left - starts) / horizon.slot, 0.0, 1.0)
    wh_per_a = per_ampere[:, None] * horizon.slot / 3600 * shares
    short = np.array([max(0.0, n.energy_wh) for n in problem.needs]) - (currents * wh_per_a).sum(axis=1)
    order = np.argsort(slots.price, kind="stable") if problem.mode is Mode.CHEAPEST else range(horizon.slots)
    by_departure = sorted(range(len(problem.needs)), key=lambda c: problem.needs[c].departure)
    for t in order:
        for c in by_departure:
            need = problem.needs[c]
            if short[c] <= 1e-6 or wh_per_a[c, t] <= 0:
                continue
            above = np.nonzero(slots.member[:, c] > 0)[0]
            rooms = [
                slots.phase_room[lv, t, p] - on_phase[lv, t, p]
                for lv in above
                for p in range(3)
                if mask[c, p]
            ]
            rooms += [(room_w[lv, t] - watts[lv, t]) / per_ampere[c] for lv in above]
            add = min([need.max_current - currents[c, t], short[c] / wh_per_a[c, t], *rooms])
            if add <= _ZERO or currents[c, t] + add < need.min_current:
                continue
            currents[c, t] += add
            on_phase[:, t] += add * slots.member[:, c, None] * mask[c]
            watts[:, t] += add * per_ampere[c] * slots.member[:, c]
            short[c] -= add * wh_per_a[c, t]


def _report(problem: Problem, slots: _Slots, currents: Array) -> Plan:
    horizon, voltage = problem.horizon, problem.supply.voltage
    starts = np.arange(horizon.slots) * horizon.slot
    plans = []
    for c, need in enumerate(problem.needs):
        left = (need.departure - horizon.start).total_seconds()
        share = np.clip((left - starts) / horizon.slot, 0.0, 1.0)
        offered = currents[c] * voltage * len(need.phases) * horizon.slot / 3600 * share
        wanted = max(0.0, need.energy_wh)
        taken = np.diff(np.minimum(np.cumsum(offered), wanted), prepend=0.0)
        delivered = float(taken.sum())
        cost = float(taken @ slots.price) / 1000
        plans.append(
            ConnectorPlan(
                need.connector,
                len(need.phases),
                tuple(float(v) for v in currents[c]),
                delivered,
                max(0.0, wanted - delivered),
                cost,
            )
        )
    on_phase, watts = _loads(problem, slots, currents)
    load = on_phase[0] + slots.base
    power = watts[0] + slots.base.sum(axis=1) * voltage
    return Plan(
        horizon,
        tuple(plans),
        tuple((float(a), float(b), float(c)) for a, b, c in load),
        tuple(float(w) for w in power),
        sum(p.cost for p in plans),
    )


def _check(problem: Problem) -> None:
    horizon = problem.horizon
    if horizon.slot < 1 or horizon.slots < 1:
        raise PlanError(f"the horizon needs slots of 1 s or more, got {horizon.slots} of {horizon.slot} s")
    if horizon.start.tzinfo is None:
        raise PlanError("the horizon's start needs a UTC offset")
    if problem.mode is Mode.CHEAPEST and not problem.prices:
        raise PlanError("mode cheapest needs a price curve")
    if [p.start for p in problem.prices] != sorted({p.start for p in problem.prices}):
        raise PlanError("price steps must start at distinct instants, in order")
    if [b.start for b in problem.base_load] != sorted({b.start for b in problem.base_load}):
        raise PlanError("non-EV load steps must start at distinct instants, in order")
    if not problem.supply.voltage > 0:
        raise PlanError(f"the voltage must be positive, got {problem.supply.voltage}")
    if problem.peak_target is not None and not problem.peak_target >= 0:
        raise PlanError(f"the peak target must be >= 0 W, got {problem.peak_target}")
    for branch in problem.branches:
        for name, limit in (("max current", branch.max_current), ("max power", branch.max_power)):
            if limit is not None and not (math.isfinite(limit) and limit >= 0):
                raise PlanError(f"circuit {branch.name}: {name} must be a finite number >= 0, got {limit}")
        if not all(math.isfinite(value) for value in branch.base):
            raise PlanError(f"circuit {branch.name}: its load must be finite, got {branch.base}")
    seen: set[ConnectorId] = set()
    for need in problem.needs:
        where = f"{need.connector.station}:{need.connector.connector}"
        if need.connector in seen:
            raise PlanError(f"{where}: two needs for one connector")
        seen.add(need.connector)
        if not (math.isfinite(need.energy_wh) and need.energy_wh >= 0):
            raise PlanError(f"{where}: energy must be a finite number >= 0 Wh, got {need.energy_wh}")
        for name, value in (("max current", need.max_current), ("min current", need.min_current)):
            if not (math.isfinite(value) and value >= 0):
                raise PlanError(f"{where}: {name} must be a finite number >= 0 A, got {value}")
        if not (
            need.phases and set(need.phases) <= set(PHASES) and len(set(need.phases)) == len(need.phases)
        ):
            raise PlanError(f"{where}: phases must be distinct among 1, 2, 3, got {need.phases}")
        if need.departure.tzinfo is None:
            raise PlanError(f"{where}: the departure needs a UTC offset")


def plan(problem: Problem) -> Plan:
    """Each connector's current per slot meeting ``problem``'s needs as the module docstring says.

    Raises :class:`PlanError` for a problem it cannot plan (a naive time, a negative need, cheapest
    without prices) or when the solver gives up."""
    _check(problem)
    slots = _slots(problem)
    closed: set[tuple[int, int]] = set()
    forced: set[tuple[int, int]] = set()
    currents = np.zeros((len(problem.needs), problem.horizon.slots))
    for round in range(ROUNDS):
        cols = _columns(problem, slots, closed, forced)
        currents = _grid(problem, cols, _solve(problem, slots, cols) if len(cols.slot) else np.zeros(0))
        _shrink(problem, slots, currents)
        paused, borrowed = _round(problem, slots, currents, forced, borrow=round < ROUNDS - 1)
        if not paused and not borrowed:
            break
        closed |= paused
    _fill(problem, slots, currents)
    return _report(problem, slots, currents)


# -- as a TxProfile ------------------------------------------------------------------------------------


def tx_profile(
    plan: Plan,
    connector: ConnectorId,
    *,
    profile_id: int,
    stack_level: int = 0,
    transaction_id: int | None = None,
    max_periods: int = 24,
    min_period: int = 60,
    step: Decimal = TENTH,
) -> dict[str, Any]:
    """``connector``'s plan as a 1.6 ``csChargingProfiles`` TxProfile (Absolute, in A), trimmed to
    ``max_periods`` periods of at least ``min_period`` s with limits floored to ``step``: the profile
    never allows more than the plan in any instant."""
    found = plan.of(connector)
    if found is None:
        raise PlanError(f"{connector.station}:{connector.connector} has no plan")
    horizon = plan.horizon
    periods: list[CompositePeriod] = []
    for t, value in enumerate(found.currents):
        limit = Decimal(repr(value))
        if not periods or periods[-1].limit != limit:
            periods.append(CompositePeriod(t * horizon.slot, limit, found.phases))
    schedule = CompositeSchedule(horizon.start, horizon.slot * horizon.slots, Unit.A, tuple(periods))
    trimmed = trim(schedule, max_periods=max_periods, min_period=min_period, step=step)
    body: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "duration": trimmed.duration,
            "startSchedule": wire_time(trimmed.start),
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": p.start, "limit": float(p.limit or 0), "numberPhases": p.phases}
                for p in trimmed.periods
            ],
        },
    }
    if transaction_id is not None:
        body["transactionId"] = transaction_id
    return body
