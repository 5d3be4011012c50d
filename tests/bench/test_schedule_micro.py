"""The composite-schedule micro-benchmark runs on its own inputs and measures something."""

from __future__ import annotations

from bench import schedule_micro


def test_the_benchmark_runs_on_five_profiles_of_96_periods() -> None:
    figures = schedule_micro.run(number=1, rounds=1)
    assert (figures["profiles"], figures["periods_per_profile"]) == (5, 96)
    assert figures["composite_periods_day"] > 96
    assert all(figures[key] > 0 for key in ("composite_a_ms", "composite_w_ms", "parse_ms", "trim_ms"))
