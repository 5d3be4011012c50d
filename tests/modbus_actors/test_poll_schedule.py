"""PollSchedule, the sans-I/O core of the meter actor: rate, backoff and staleness from outcomes only."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.meter import PollSchedule, Transition


def test_keeps_a_fixed_rate_while_the_device_answers() -> None:
    schedule = PollSchedule(1.0, first_at=10.0)
    for tick in range(5):
        now = schedule.next_at + 0.05  # each poll takes 50 ms
        assert schedule.succeeded(now) is None
        assert schedule.next_at == pytest.approx(11.0 + tick)
    assert schedule.skipped == 0


def test_an_overrunning_poll_skips_ticks_and_counts_them() -> None:
    schedule = PollSchedule(1.0, first_at=0.0)
    schedule.succeeded(2.5)  # the poll due at 0 finished at 2.5: ticks 1 and 2 are gone
    assert schedule.next_at == pytest.approx(3.0)
    assert schedule.skipped == 2


def test_backs_off_turns_stale_and_recovers() -> None:
    schedule = PollSchedule(0.5, first_at=0.0, stale_after=3, max_backoff=3.0)
    now = 0.0
    delays = []
    transitions = []
    for _ in range(6):
        transitions.append(schedule.failed(now))
        delays.append(schedule.next_at - now)
        now = schedule.next_at
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert transitions == [None, None, Transition.STALE, None, None, None]
    assert schedule.stale and schedule.missed == 6
    assert schedule.succeeded(now + 0.1) is Transition.RECOVERED
    assert not schedule.stale
    assert schedule.next_at == pytest.approx(now + 0.6)  # realigned to the recovery


@pytest.mark.parametrize(
    ("interval", "stale_after", "max_backoff"), [(0.05, 3, 30.0), (1.0, 0, 30.0), (2.0, 3, 1.0)]
)
def test_refuses_bad_settings(interval: float, stale_after: int, max_backoff: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        PollSchedule(interval, 0.0, stale_after=stale_after, max_backoff=max_backoff)


@settings(max_examples=150, deadline=None)
@given(
    interval=st.floats(0.1, 5.0),
    stale_after=st.integers(1, 5),
    outcomes=st.lists(st.tuples(st.booleans(), st.floats(0.0, 3.0)), max_size=40),
)
def test_stale_exactly_after_enough_misses_in_a_row(
    interval: float, stale_after: int, outcomes: list[tuple[bool, float]]
) -> None:
    max_backoff = interval * 4
    schedule = PollSchedule(interval, 0.0, stale_after=stale_after, max_backoff=max_backoff)
    in_a_row = 0
    for answered, took in outcomes:
        now = schedule.next_at + took
        was_stale = schedule.stale
        if answered:
            transition = schedule.succeeded(now)
            assert transition is (Transition.RECOVERED if was_stale else None)
            in_a_row = 0
        else:
            transition = schedule.failed(now)
            in_a_row += 1
            assert transition is (Transition.STALE if in_a_row == stale_after else None)
            assert schedule.next_at - now <= max_backoff + 1e-9
        assert schedule.stale == (in_a_row >= stale_after)
        assert schedule.next_at > now
