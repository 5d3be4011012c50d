"""Limits by source: the minimum of what applies is in force, and no source can raise it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.charging import Unit
from actors.sites import Bound, LimitError, Source, SourceLimit, limits_in_force

T0 = datetime(2026, 11, 27, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_the_lowest_applying_limit_binds_and_its_source_is_named() -> None:
    limits = [
        SourceLimit(Source.GRID_OPERATOR, Unit.A, 40, valid_from=T0, valid_until=T0 + HOUR),
        SourceLimit(Source.SITE_OPERATOR, Unit.A, schedule=((T0, 50), (T0 + 2 * HOUR, 25))),
        SourceLimit(Source.DRIVER, Unit.W, 22_080),  # 32 A on three phases at 230 V
    ]
    at = lambda moment: limits_in_force(limits, moment, max_current=63)  # noqa: E731
    assert at(T0).current == Bound(40, Unit.A, Source.GRID_OPERATOR)
    assert at(T0).binding == Bound(22_080, Unit.W, Source.DRIVER)
    assert at(T0 + HOUR).current == Bound(50, Unit.A, Source.SITE_OPERATOR)  # the grid's has ended
    assert at(T0 + 2 * HOUR).binding == Bound(25, Unit.A, Source.SITE_OPERATOR)
    assert at(T0 - HOUR).current == Bound(63, Unit.A, None)  # before the schedule: the configured limit


def test_a_tie_is_reported_as_the_higher_priority_source() -> None:
    limits = [SourceLimit(Source.DRIVER, Unit.A, 20), SourceLimit(Source.FLEET_OPERATOR, Unit.A, 20)]
    assert limits_in_force(limits, T0).binding == Bound(20, Unit.A, Source.FLEET_OPERATOR)
    assert limits_in_force(limits, T0, max_current=20).binding == Bound(20, Unit.A, None)


def test_a_limit_is_one_value_or_one_ordered_schedule_with_a_sensible_validity() -> None:
    with pytest.raises(LimitError):
        SourceLimit(Source.DRIVER, Unit.A)
    with pytest.raises(LimitError):
        SourceLimit(Source.DRIVER, Unit.A, 10, schedule=((T0, 10),))
    with pytest.raises(LimitError):
        SourceLimit(Source.DRIVER, Unit.A, -1)
    with pytest.raises(LimitError):
        SourceLimit(Source.DRIVER, Unit.A, schedule=((T0 + HOUR, 10), (T0, 10)))
    with pytest.raises(LimitError):
        SourceLimit(Source.DRIVER, Unit.A, 10, valid_from=T0, valid_until=T0)


moments = st.integers(-5, 5).map(lambda h: T0 + h * HOUR)
values = st.integers(0, 100).map(float)


@st.composite
def source_limits(draw: st.DrawFn, source: Source | None = None) -> SourceLimit:
    who = source or draw(st.sampled_from(list(Source)))
    unit = draw(st.sampled_from([Unit.A, Unit.W]))
    start = draw(st.none() | moments)
    end = draw(st.none() | moments)
    if start is not None and end is not None and end <= start:
        start, end = None, end
    if draw(st.booleans()):
        return SourceLimit(who, unit, draw(values), valid_from=start, valid_until=end)
    steps = sorted(draw(st.sets(moments, min_size=1, max_size=4)))
    return SourceLimit(
        who, unit, schedule=tuple((s, draw(values)) for s in steps), valid_from=start, valid_until=end
    )


def _amperes(bound: Bound | None) -> float:
    if bound is None:
        return float("inf")
    return bound.value if bound.unit is Unit.A else bound.value / (3 * 230)


@given(st.lists(source_limits(), max_size=4), source_limits(), moments, st.none() | values)
def test_no_source_ever_raises_what_is_in_force(
    limits: list[SourceLimit], added: SourceLimit, moment: datetime, configured: float | None
) -> None:
    before = limits_in_force(limits, moment, max_current=configured)
    after = limits_in_force([*limits, added], moment, max_current=configured)
    assert _amperes(after.current) <= _amperes(before.current)
    assert _amperes(after.power) <= _amperes(before.power)
    assert _amperes(after.binding) <= _amperes(before.binding)


@given(st.lists(source_limits(), max_size=5), moments)
def test_in_force_is_at_most_every_applying_limit_and_a_lower_source_binds_only_below_the_higher(
    limits: list[SourceLimit], moment: datetime
) -> None:
    force = limits_in_force(limits, moment)
    for limit in limits:
        value = limit.at(moment)
        if value is None:
            continue
        bound = force.current if limit.unit is Unit.A else force.power
        assert bound is not None and bound.value <= value
        if bound.source is not None and bound.source.rank > limit.source.rank:
            assert bound.value < value  # a lower-priority source binds only by being strictly lower
