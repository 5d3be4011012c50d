"""One allocation round: worked tables, then properties over random sites (the limits hold at every
level and phase, minimums or paused, priorities and fifo honoured, equal is fair)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.sites import Allocation, ConnectorId, Demand, Level, Overload, Policy, allocate
from actors.sites.allocation import EPSILON

V = 230.0
TOLERANCE = 1e-6


def cid(n: int) -> ConnectorId:
    return ConnectorId(f"CP-{n}", 1)


def demand(n: int, level: str = "site", max_current: float = 32, **kw: object) -> Demand:
    return Demand(cid(n), level, max_current, **kw)  # type: ignore[arg-type]


def amps(allocation: Allocation, *ns: int) -> list[float]:
    return [allocation.currents[cid(n)] for n in ns]


def chain(levels: Sequence[Level], name: str) -> list[Level]:
    by_name = {level.name: level for level in levels}
    out = [by_name[name]]
    while out[-1].parent is not None:
        out.append(by_name[out[-1].parent])
    return out


def usage(
    levels: Sequence[Level], demands: Sequence[Demand], allocation: Allocation
) -> dict[tuple[str, int], float]:
    """A on each (level, phase) and W on each (level, 0), EV and non-EV load together, computed apart."""
    used: dict[tuple[str, int], float] = {}
    for level in levels:
        loads = [x or 0.0 for x in level.non_ev]
        for phase in (1, 2, 3):
            used[level.name, phase] = loads[phase - 1]
        used[level.name, 0] = V * sum(loads)
    for d in demands:
        per_phase = allocation.per_phase(d.connector)
        for level in chain(levels, d.level):
            for phase in (1, 2, 3):
                used[level.name, phase] += per_phase[phase - 1]
            used[level.name, 0] += V * sum(per_phase)
    return used


def within(
    levels: Sequence[Level], demands: Sequence[Demand], allocation: Allocation, tolerance: float = TOLERANCE
) -> list[str]:
    used = usage(levels, demands, allocation)
    broken = []
    for level in levels:
        for phase in (1, 2, 3):
            if level.max_current is not None and used[level.name, phase] > level.max_current + tolerance:
                broken.append(f"{level.name} L{phase}: {used[level.name, phase]} > {level.max_current}")
        if level.max_power is not None and used[level.name, 0] > level.max_power + tolerance:
            broken.append(f"{level.name} power: {used[level.name, 0]} > {level.max_power}")
    return broken


# --- worked tables ---------------------------------------------------------------------------


def test_equal_shares_what_the_site_allows() -> None:
    levels = [Level("site", max_current=32)]
    demands = [demand(1), demand(2), demand(3)]
    assert amps(allocate(levels, demands), 1, 2, 3) == [10.6, 10.6, 10.6]  # 32 / 3, rounded down


def test_a_connector_capped_below_its_share_leaves_the_rest_to_the_others() -> None:
    levels = [Level("site", max_current=32)]
    demands = [demand(1, max_current=8), demand(2), demand(3)]
    assert amps(allocate(levels, demands), 1, 2, 3) == [8, 12, 12]


def test_below_min_current_the_latest_arrival_is_paused() -> None:
    levels = [Level("site", max_current=16)]
    demands = [demand(1, arrival=1), demand(2, arrival=2), demand(3, arrival=3)]
    allocation = allocate(levels, demands)
    assert amps(allocation, 1, 2, 3) == [8, 8, 0] and allocation.paused == {cid(3)}


def test_non_ev_load_is_taken_off_each_phase() -> None:
    levels = [Level("site", max_current=32, non_ev=(20, 4, None))]
    allocation = allocate(levels, [demand(1), demand(2, phases=(2,))])
    assert amps(allocation, 1, 2) == [12, 16]
    assert allocation.per_phase(cid(1)) == (12, 12, 12) and allocation.per_phase(cid(2)) == (0, 16, 0)


def test_circuits_cap_their_members_and_the_site_caps_everyone() -> None:
    levels = [
        Level("site", max_current=40),
        Level("row-a", "site", max_current=16),
        Level("row-b", "site", max_current=63),
    ]
    demands = [demand(1, "row-a"), demand(2, "row-a"), demand(3, "row-b"), demand(4, "row-b")]
    assert amps(allocate(levels, demands), 1, 2, 3, 4) == [8, 8, 12, 12]


def test_power_limit_counts_the_phases_each_connector_uses() -> None:
    # 11,040 W: one three-phase car at 16 A, or a three-phase and a one-phase car sharing
    levels = [Level("site", max_power=11_040)]
    allocation = allocate(levels, [demand(1), demand(2, phases=(1,))])
    assert amps(allocation, 1, 2) == [12, 12]  # 12 A * 230 V * (3 + 1) phases = 11,040 W


def test_priority_fills_the_higher_first() -> None:
    levels = [Level("site", max_current=40)]
    demands = [demand(1, priority=0), demand(2, priority=5, max_current=16), demand(3, priority=5)]
    assert amps(allocate(levels, demands, Policy.PRIORITY), 1, 2, 3) == [0, 16, 24]  # strict: 1 waits
    assert amps(allocate(levels, demands, Policy.EQUAL), 1, 2, 3) == [13.3, 13.3, 13.3]


def test_fifo_fills_the_earliest_first() -> None:
    levels = [Level("site", max_current=40)]
    demands = [demand(1, arrival=30), demand(2, arrival=10), demand(3, arrival=20)]
    assert amps(allocate(levels, demands, Policy.FIFO), 1, 2, 3) == [0, 32, 8]


def test_non_ev_load_above_the_limit_pauses_everyone_under_it_and_says_by_how_much() -> None:
    levels = [Level("site", max_current=63), Level("hall", "site", max_current=20, non_ev=(22, 5, 5))]
    allocation = allocate(levels, [demand(1, "hall"), demand(2)])
    assert amps(allocation, 1, 2) == [0, 32]
    assert allocation.overloads == (Overload("hall", 1, 2),)


def test_minimums_can_differ_and_the_fill_starts_each_from_its_own() -> None:
    levels = [Level("site", max_current=30)]
    demands = [demand(1, min_current=6), demand(2, min_current=10), demand(3, min_current=6)]
    assert amps(allocate(levels, demands), 1, 2, 3) == [10, 10, 10]
    levels = [Level("site", max_current=24)]
    assert amps(allocate(levels, demands), 1, 2, 3) == [7, 10, 7]


def test_a_demand_names_a_known_level() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        allocate([Level("site", max_current=16)], [demand(1, "nowhere")])
    with pytest.raises(ValueError, match="unknown parent 'x'"):
        allocate([Level("site", max_current=16), Level("c", "x", 10)], [demand(1, "c")])
    with pytest.raises(ValueError, match="c -> d -> c form a cycle"):
        allocate([Level("c", "d", 10), Level("d", "c", 10)], [demand(1, "c")])
    with pytest.raises(ValueError, match="phases"):
        demand(1, phases=(1, 4))


# --- properties ------------------------------------------------------------------------------


@st.composite
def sites(draw: st.DrawFn) -> tuple[list[Level], list[Demand]]:
    """A site, circuits under it or each other, connectors on any level; non-EV load below limits."""
    names = ["site"]
    levels = []
    for n in range(draw(st.integers(0, 5))):
        names.append(f"c{n}")
    for index, name in enumerate(names):
        max_current = draw(st.none() | st.integers(6, 80).map(float))
        max_power = draw(st.none() | st.integers(1_000, 60_000).map(float))
        if max_current is None and max_power is None:
            max_current = 32.0
        per_phase = [
            x for x in (max_current, None if max_power is None else max_power / (3 * V)) if x is not None
        ]
        non_ev = tuple(draw(st.none() | st.floats(0, min(per_phase) * 0.9)) for _ in range(3))
        parent = None if index == 0 else names[draw(st.integers(0, index - 1))]
        levels.append(Level(name, parent, max_current, max_power, non_ev))  # type: ignore[arg-type]
    demands = []
    for n in range(draw(st.integers(0, 14))):
        low = draw(st.sampled_from([6.0, 6.0, 8.0, 10.0]))
        demands.append(
            Demand(
                cid(n),
                draw(st.sampled_from(names)),
                draw(st.sampled_from([6.0, 10.0, 13.0, 16.0, 16.0, 32.0, 32.0, 5.0])),
                low,
                draw(st.sampled_from([(1, 2, 3), (1, 2, 3), (1,), (2,), (3,), (1, 2)])),
                draw(st.integers(0, 3)),
                draw(st.integers(0, 5)),
            )
        )
    return levels, demands


policies = st.sampled_from(list(Policy))


@settings(max_examples=300, deadline=None)
@given(sites(), policies, st.sampled_from([None, 0.1, 1.0]))
def test_every_level_and_phase_stays_within_its_limit(
    site: tuple[list[Level], list[Demand]], policy: Policy, step: float | None
) -> None:
    levels, demands = site
    allocation = allocate(levels, demands, policy, voltage=V, step=step)
    assert within(levels, demands, allocation) == []


@settings(max_examples=300, deadline=None)
@given(sites(), policies)
def test_each_connector_gets_nothing_or_at_least_its_minimum_and_never_above_its_maximum(
    site: tuple[list[Level], list[Demand]], policy: Policy
) -> None:
    levels, demands = site
    allocation = allocate(levels, demands, policy, voltage=V)
    for d in demands:
        current = allocation.currents[d.connector]
        assert current == 0 or d.min_current <= current <= d.max_current + TOLERANCE
        assert (current == 0) == (d.connector in allocation.paused)


def could_have_more(
    levels: Sequence[Level], demands: Sequence[Demand], allocation: Allocation, d: Demand
) -> bool:
    """Whether ``d`` could draw a little more (its minimum, when paused) with everything else unchanged."""
    current = allocation.currents[d.connector]
    if current >= d.max_current - 1e-6 or d.max_current < d.min_current:
        return False
    more = max(current + 1e-3, d.min_current)
    bumped = Allocation({**allocation.currents, d.connector: more}, allocation.phases)
    # As strict as the allocation itself: a minimum that overshoots a limit by a hair does not fit.
    return within(levels, demands, bumped, tolerance=EPSILON) == []


@settings(max_examples=300, deadline=None)
@given(sites(), st.sampled_from([Policy.PRIORITY, Policy.FIFO]))
def test_who_comes_first_never_gets_less_unless_it_could_not_have_more(
    site: tuple[list[Level], list[Demand]], policy: Policy
) -> None:
    levels, demands = site
    allocation = allocate(levels, demands, policy, voltage=V, step=None)
    for first in demands:
        for later in demands:
            ahead = (
                first.priority > later.priority
                if policy is Policy.PRIORITY
                else first.arrival < later.arrival
            )
            if ahead and allocation.currents[first.connector] < allocation.currents[later.connector] - 1e-6:
                assert not could_have_more(levels, demands, allocation, first), (first, later)


@settings(max_examples=300, deadline=None)
@given(sites())
def test_equal_gives_connectors_on_the_same_levels_with_the_same_caps_the_same(
    site: tuple[list[Level], list[Demand]],
) -> None:
    levels, demands = site
    allocation = allocate(levels, demands, Policy.EQUAL, voltage=V)
    charging = [d for d in demands if d.connector not in allocation.paused]
    for a in charging:
        for b in charging:
            if (a.level, a.phases, a.min_current, a.max_current) == (
                b.level,
                b.phases,
                b.min_current,
                b.max_current,
            ):
                assert allocation.currents[a.connector] == allocation.currents[b.connector]


@settings(max_examples=300, deadline=None)
@given(sites(), policies)
def test_nothing_is_left_unused_that_a_charging_connector_could_take(
    site: tuple[list[Level], list[Demand]], policy: Policy
) -> None:
    """Unrounded, every charging connector is at its maximum or on a full level (no capacity wasted)."""
    levels, demands = site
    allocation = allocate(levels, demands, policy, voltage=V, step=None)
    for d in demands:
        if d.connector not in allocation.paused:
            assert not could_have_more(levels, demands, allocation, d)


@settings(max_examples=200, deadline=None)
@given(sites(), policies, st.floats(0.1, 50))
def test_non_ev_load_above_a_limit_pauses_the_connectors_under_it_and_is_reported(
    site: tuple[list[Level], list[Demand]], policy: Policy, excess: float
) -> None:
    levels, demands = site
    top = levels[0]
    if top.max_current is None:
        return
    levels[0] = Level(top.name, None, top.max_current, top.max_power, (top.max_current + excess, None, None))
    allocation = allocate(levels, demands, policy, voltage=V)
    assert Overload(top.name, 1, pytest.approx(excess)) in allocation.overloads
    assert all(allocation.per_phase(d.connector)[0] == 0 for d in demands)
