"""Pacing: decreases always go at once, small or early rises wait, nothing in force exceeds its target."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.sites import Sent, pace


def test_worked_cases() -> None:
    previous = {"a": Sent(16, at=100), "b": Sent(16, at=100), "c": Sent(16, at=100), "d": Sent(0, at=100)}
    targets = {"a": 15.9, "b": 16.5, "c": 20, "d": 6, "e": 10}
    early = pace(targets, previous, now=105, deadband=1, min_interval=10)
    assert early.send == {"a": 15.9, "e": 10}  # a decrease of 0.1 A goes; a first send goes
    assert early.held == {"b": 16.5, "c": 20, "d": 6}  # too small, or too soon after the last send
    assert early.in_force == {"a": 15.9, "b": 16, "c": 16, "d": 0, "e": 10}
    later = pace(targets, previous, now=110, deadband=1, min_interval=10)
    assert later.send == {"a": 15.9, "c": 20, "d": 6, "e": 10} and later.held == {"b": 16.5}
    assert pace({"a": 16}, {"a": Sent(16, 0)}, now=1).send == {}


sent = st.builds(Sent, st.sampled_from([0.0, 6.0, 6.5, 10.0, 16.0, 32.0]), st.floats(0, 100))
currents = st.sampled_from([0.0, 6.0, 6.1, 7.0, 10.0, 16.0, 31.9, 32.0])


@given(
    st.dictionaries(st.integers(0, 9), currents),
    st.dictionaries(st.integers(0, 9), sent),
    st.floats(0, 200),
    st.floats(0, 5),
    st.floats(0, 60),
)
def test_a_decrease_is_never_held_and_nothing_in_force_exceeds_its_target(
    targets: dict[int, float], previous: dict[int, Sent], now: float, deadband: float, interval: float
) -> None:
    paced = pace(targets, previous, now, deadband=deadband, min_interval=interval)
    for key, target in targets.items():
        assert paced.in_force[key] <= target
        if key in previous and target < previous[key].current:
            assert paced.send[key] == target
        assert (key in paced.send) + (key in paced.held) <= 1
