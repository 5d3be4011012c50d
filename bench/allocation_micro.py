"""Micro-benchmark: one allocation round for 1,000 connectors on one site (issue 13's target: 50 ms).

The site: a grid connection of 11,000 A per phase and 7 MW, 10 feeders of 900 to 1,800 A, 5 rows of
160 to 400 A on each feeder, 20 connectors per row. Four in five connectors are three-phase, the rest
on one phase (spread over L1..L3); their maximum is what a car takes (10, 13, 16 or 32 A); priorities
0..3 and arrival times are drawn from a fixed seed; the grid meter reports non-EV load on every
phase. The limits are tighter than the cars' maximums, so the round water-fills rather than handing
everyone their maximum. Measured in CPU time of this process (``time.process_time``: the machine is
shared, and wall time counts the other processes' turns), per call, as the median of several rounds
(milliseconds):

- ``equal_ms``, ``priority_ms``, ``fifo_ms``: :func:`actors.sites.allocate` under each policy;
- ``*_distinct_max_ms``: the same with every car's maximum different (uniform over 6..32 A), the
  harder case for water-filling, whose steps are the distinct points where someone stops;
- ``pace_ms``: :func:`actors.sites.pace` of the equal round's targets against a previous round.

Run ``python -m bench.allocation_micro`` to print the figures and write
``bench/results/allocation-micro.json`` and ``.md``.
"""

from __future__ import annotations

import random
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

from actors.sites import ConnectorId, Demand, Level, Policy, Sent, allocate, pace
from bench.report import write_micro

FEEDERS, ROWS, PER_ROW = 10, 5, 20
ROW_LIMITS = (160.0, 200.0, 250.0, 320.0, 400.0)  # A per phase for the 20 connectors of a row


def site(seed: int = 13, distinct_max: bool = False) -> tuple[list[Level], list[Demand]]:
    """The levels and the 1,000 demands of the benchmark's site (``distinct_max``: each car's maximum
    drawn from 6..32 A rather than the four usual ratings)."""
    rng = random.Random(seed)
    levels = [Level("site", None, 11_000.0, 7_000_000.0, (60.0, 45.0, 52.0))]
    demands = []
    for f in range(FEEDERS):
        levels.append(Level(f"feeder-{f}", "site", 900.0 + 100 * f))
        for r in range(ROWS):
            row = f"feeder-{f}/row-{r}"
            levels.append(Level(row, f"feeder-{f}", ROW_LIMITS[r]))
            for c in range(PER_ROW):
                phases = (1, 2, 3) if rng.random() < 0.8 else (rng.choice((1, 2, 3)),)
                demands.append(
                    Demand(
                        ConnectorId(f"{row}/CP-{c}", 1),
                        row,
                        round(rng.uniform(6, 32), 3)
                        if distinct_max
                        else rng.choice((10.0, 13.0, 16.0, 32.0)),
                        6.0,
                        phases,
                        rng.randrange(4),
                        rng.uniform(0, 3600),
                    )
                )
    return levels, demands


def _per_call_ms(fn: Callable[[], object], number: int, rounds: int) -> float:
    fn()
    timer = timeit.Timer(fn, timer=time.process_time)
    return statistics.median(timer.repeat(repeat=rounds, number=number)) / number * 1e3


def run(number: int = 5, rounds: int = 7) -> dict[str, Any]:
    levels, demands = site()
    figures: dict[str, Any] = {}
    _, distinct = site(distinct_max=True)
    for policy in Policy:
        figures[f"{policy.value}_ms"] = _per_call_ms(
            lambda p=policy: allocate(levels, demands, p), number, rounds
        )
        figures[f"{policy.value}_distinct_max_ms"] = _per_call_ms(
            lambda p=policy: allocate(levels, distinct, p), number, rounds
        )
    equal = allocate(levels, demands, Policy.EQUAL)
    rng = random.Random(7)
    previous = {
        k: Sent(max(0.0, v + rng.choice((-2.0, 0.0, 0.5, 3.0))), rng.uniform(0, 20))
        for k, v in equal.currents.items()
    }
    figures["pace_ms"] = _per_call_ms(lambda: pace(equal.currents, previous, 20.0), number * 4, rounds)
    return {
        **{key: round(value, 3) for key, value in figures.items()},
        "connectors": len(demands),
        "levels": len(levels),
        **{f"paused_{p.value}": len(allocate(levels, demands, p).paused) for p in Policy},
        "distinct_currents_equal": len(set(equal.currents.values())),
        "number": number,
        "rounds": rounds,
    }


def _markdown(results: dict[str, Any]) -> str:
    figures = results["figures"]
    return "\n".join(
        [
            "# Allocation round micro-benchmark",
            "",
            f"Measured {results['when']} on {results['machine']}, `python -m bench.allocation_micro`.",
            "This 2-core machine was shared with other builds and their tests while it ran: the figures are",
            "CPU time of the benchmark's process (`time.process_time`), medians of "
            f"{figures['rounds']} rounds of {figures['number']} calls (pacing: 4x as many calls).",
            "Load average when it started (1, 5, 15 min): "
            f"{', '.join(map(str, results['load_average_1_5_15']))}.",
            "",
            f"Input: one site, {figures['connectors']} connectors on {figures['levels']} levels (the grid "
            "connection, 10 feeders, 5 rows per feeder), 4 in 5 three-phase, non-EV load on every phase; "
            "limits below what the cars would take; "
            f"connectors paused: {figures['paused_equal']} under `equal` (which ends with "
            f"{figures['distinct_currents_equal']} distinct currents), {figures['paused_priority']} under "
            f"`priority`, {figures['paused_fifo']} under `fifo`. Target (issue 13): one round <= 50 ms.",
            "",
            "| measurement | median |",
            "| --- | --- |",
            f"| one round, policy `equal` | {figures['equal_ms']} ms |",
            f"| one round, policy `priority` | {figures['priority_ms']} ms |",
            f"| one round, policy `fifo` | {figures['fifo_ms']} ms |",
            *(
                f"| one round, `{p.value}`, every car's maximum different | "
                f"{figures[p.value + '_distinct_max_ms']} ms |"
                for p in Policy
            ),
            f"| pacing the round's 1,000 targets | {figures['pace_ms']} ms |",
            "",
        ]
    )


def main() -> None:
    write_micro("allocation-micro", run(), _markdown)


if __name__ == "__main__":
    main()
