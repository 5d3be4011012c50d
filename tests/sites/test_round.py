"""The parts together, as the site actor will use them: limits by source feed the levels, the round
allocates, pacing decides what to send; what is in force after pacing stays within every limit."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.charging import Unit
from actors.sites import (
    Allocation,
    Circuit,
    ConnectorId,
    Demand,
    Level,
    Member,
    Policy,
    Sent,
    Site,
    Source,
    SourceLimit,
    allocate,
    levels_of,
    limits_in_force,
    pace,
)
from tests.sites.test_allocation import V, sites, within

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
DEPOT = Site(
    "depot",
    ("CP-1", "CP-2"),
    max_current=63.0,
    circuits=(Circuit("carport", None, 32.0, None, (Member("CP-2"),)),),
)


def _round(limits: list[SourceLimit]) -> list[float]:
    in_force = limits_in_force(limits, NOW, max_current=DEPOT.max_current, max_power=DEPOT.max_power)
    levels = levels_of(DEPOT, non_ev={"depot": (11.0, 11.0, 11.0)}, in_force=in_force)
    demands = [
        Demand(ConnectorId(s, n), DEPOT.circuit_of(ConnectorId(s, n)) or DEPOT.id, 32.0)
        for s, n in (("CP-1", 1), ("CP-2", 1), ("CP-2", 2))
    ]
    allocation = allocate(levels, demands, DEPOT.policy)
    return [allocation.currents[d.connector] for d in demands]


def test_the_limit_in_force_is_what_the_round_shares() -> None:
    assert _round([]) == [20.0, 16.0, 16.0]  # 63 - 11 = 52 at the site; the carport's 32 A halved
    grid = SourceLimit(Source.GRID_OPERATOR, Unit.A, 35.0)
    assert _round([grid]) == [8.0, 8.0, 8.0]  # 35 - 11 = 24 shared by three
    driver = SourceLimit(Source.DRIVER, Unit.A, 60.0)
    assert _round([grid, driver]) == [8.0, 8.0, 8.0]  # a lower source cannot raise it
    # 24,150 W less the other load's 3 x 11 A x 230 V leaves 16,560 W: 24 A on three phases
    assert _round([SourceLimit(Source.SITE_OPERATOR, Unit.W, 24_150.0)]) == [8.0, 8.0, 8.0]
    # 17,940 W leaves 15 A on three phases: two at their minimum would fit, three would not
    assert _round([SourceLimit(Source.SITE_OPERATOR, Unit.W, 17_940.0)]) == [7.5, 7.5, 0.0]


@settings(max_examples=200, deadline=None)
@given(sites(), st.sampled_from(list(Policy)), st.data())
def test_what_is_in_force_after_pacing_stays_within_every_limit(
    site: tuple[list[Level], list[Demand]], policy: Policy, data: st.DataObject
) -> None:
    levels, demands = site
    allocation = allocate(levels, demands, policy, voltage=V)
    previous = {
        d.connector: Sent(
            data.draw(st.sampled_from([0.0, 6.0, 10.0, 16.0, 32.0])), data.draw(st.floats(0, 30))
        )
        for d in demands
        if data.draw(st.booleans())
    }
    paced = pace(allocation.currents, previous, now=30.0, deadband=1.0, min_interval=10.0)
    assert within(levels, demands, Allocation(dict(paced.in_force), allocation.phases)) == []
