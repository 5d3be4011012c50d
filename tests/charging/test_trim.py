"""Trimming: worked cases, and properties: never a limit raised, and the station's bounds respected."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.charging import CompositePeriod, CompositeSchedule, Electrical, Unit, convert, trim
from tests.charging.builders import T0, composite_at


def schedule(
    periods: list[tuple[int, float | None]], duration: int, unit: Unit = Unit.A
) -> CompositeSchedule:
    return CompositeSchedule(
        T0,
        duration,
        unit,
        tuple(CompositePeriod(s, None if v is None else Decimal(str(v)), 3) for s, v in periods),
    )


def shape(trimmed: CompositeSchedule) -> list[tuple[int, float | None]]:
    return [(p.start, None if p.limit is None else float(p.limit)) for p in trimmed.periods]


def test_fewer_periods_give_up_the_least_energy() -> None:
    day = schedule([(0, 16), (600, 15.9), (1200, 32), (7200, 6), (7260, 32)], 14_400)
    # 15.9 vs 16 for 10 min costs least; then the 1-minute dip is kept and 32 A either side joined to it
    assert shape(trim(day, max_periods=4)) == [(0, 15.9), (1200, 32.0), (7200, 6.0), (7260, 32.0)]
    assert shape(trim(day, max_periods=2)) == [(0, 6.0), (7260, 32.0)]
    assert shape(trim(day, max_periods=1)) == [(0, 6.0)]


def test_alignment_moves_falling_edges_earlier_and_rising_edges_later() -> None:
    day = schedule([(0, 16), (590, 10), (1250, 16)], 3600)
    assert shape(trim(day, max_periods=10, min_period=300)) == [(0, 16.0), (300, 10.0), (1500, 16.0)]


def test_a_last_period_cut_short_joins_the_one_before() -> None:
    assert shape(trim(schedule([(0, 16), (900, 8)], 1000), max_periods=5, min_period=300)) == [(0, 8.0)]


def test_unit_and_step_round_down() -> None:
    amperes = schedule([(0, 16), (60, 15.9)], 120)
    watts = trim(amperes, max_periods=5, unit=Unit.W, step=Decimal(100))
    assert watts.unit is Unit.W and shape(watts) == [(0, 11000.0), (60, 10900.0)]  # 11040, 10971
    back = trim(watts, max_periods=5, unit=Unit.A, electrical=Electrical(Decimal(240), 3))
    assert shape(back) == [(0, 15.2), (60, 15.1)]  # 15.28, 15.14
    assert shape(trim(amperes, max_periods=5, step=Decimal(1))) == [(0, 16.0), (60, 15.0)]


def test_no_limit_stays_unless_joined_to_a_limit() -> None:
    open_ended = schedule([(0, None), (600, 10), (1200, None)], 1800)
    assert shape(trim(open_ended, max_periods=3)) == [(0, None), (600, 10.0), (1200, None)]
    assert shape(trim(open_ended, max_periods=2)) in ([(0, 10.0), (1200, None)], [(0, None), (600, 10.0)])


# Properties over random schedules: limits compared at every second, in the trimmed unit.

steps = st.sampled_from([Decimal("0.1"), Decimal("0.5"), Decimal(1), Decimal(100)])


@st.composite
def schedules(draw: st.DrawFn) -> CompositeSchedule:
    unit = draw(st.sampled_from(list(Unit)))
    count = draw(st.integers(1, 30))
    starts = sorted({0, *draw(st.lists(st.integers(1, 3599), max_size=count - 1))})
    top = 630 if unit is Unit.A else 440_000
    periods = tuple(
        CompositePeriod(
            s,
            draw(st.none() | st.integers(0, top).map(lambda n: Decimal(n) / 10)),
            draw(st.sampled_from([1, 3])),
        )
        for s in starts
    )
    return CompositeSchedule(T0 + timedelta(seconds=draw(st.integers(0, 86_400))), 3600, unit, periods)


@settings(max_examples=200, deadline=None)
@given(
    schedules(),
    st.integers(1, 12),
    st.sampled_from([1, 15, 60, 300, 900]),
    steps,
    st.sampled_from(list(Unit)),
)
def test_trimming_never_raises_a_limit_and_respects_the_bounds(
    original: CompositeSchedule, max_periods: int, min_period: int, step: Decimal, unit: Unit
) -> None:
    electrical = Electrical(Decimal(230), 3)
    trimmed = trim(
        original, max_periods=max_periods, unit=unit, min_period=min_period, step=step, electrical=electrical
    )
    assert trimmed.unit is unit and trimmed.start == original.start and trimmed.duration == original.duration
    assert 1 <= len(trimmed.periods) <= max_periods
    starts = [p.start for p in trimmed.periods]
    assert starts[0] == 0 and starts == sorted(set(starts))
    ends = [*starts[1:], trimmed.duration]
    assert all(end - begin >= min_period for begin, end in zip(starts, ends, strict=True))
    assert all(begin % min_period == 0 for begin in starts)
    for period in trimmed.periods:
        assert period.limit is None or (period.limit / step) == int(period.limit / step)
    for second in range(original.duration):
        was, was_phases = composite_at(original, second + 0.5)
        now, now_phases = composite_at(trimmed, second + 0.5)
        assert now_phases <= was_phases
        if was is not None:
            assert now is not None
            assert Fraction(now) <= convert(was, original.unit, unit, was_phases, electrical)
