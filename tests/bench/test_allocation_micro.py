"""The allocation micro-benchmark runs a real round over its 1,000 connectors and measures something."""

from __future__ import annotations

from bench import allocation_micro


def test_the_benchmark_allocates_1000_connectors_on_61_levels() -> None:
    figures = allocation_micro.run(number=1, rounds=1)
    assert (figures["connectors"], figures["levels"]) == (1000, 61)
    assert figures["paused_equal"] < figures["paused_priority"]  # strict priority leaves some waiting
    assert all(figures[f"{key}_ms"] > 0 for key in ("equal", "priority", "fifo", "pace"))
