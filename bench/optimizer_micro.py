"""Micro-benchmark: time to plan a site's charging for 10, 100 and 1,000 connectors over 24 h in
quarter-hours (96 slots), with :func:`actors.sites.optimizer.plan`.

The site: connectors with a car each, 4 in 5 on three phases (the rest on one, spread over L1..L3),
at most 16 or 32 A, a 6 A minimum, needing 5 to 60 kWh by a departure 2 to 24 h away (fixed seed).
The connection carries 40 % of what all cars could draw at once per phase and the matching power
(W), with a grid operator's limit 25 % lower from 17:00 to 20:00 of the horizon; a non-EV load that
changes every hour; an hourly price curve; a peak target at 80 % of the power limit. So limits bind
and some needs cannot be met: the LP is not trivial. The same site is planned again with circuits:
two feeders under the connection, each with five rows under it, the connectors spread over the ten
rows in turn; each row carries 60 % of what its cars could draw at once per phase, each feeder 50 %
of its rows' (and a row's unplanned load of 1 A per phase), so circuits bind as well.

Each figure is the median of a few plans, in CPU seconds of this process (``time.process_time``:
the machine is shared) and wall seconds; with the energy left unmet, and the LP's own bound on it
(the same problem without minimum currents, which the rounding to minimums can only raise).

Run ``python -m bench.optimizer_micro`` to print the figures and write
``bench/results/optimizer-micro.json`` and ``.md``.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from actors.charging import Unit
from actors.sites.limits import Source, SourceLimit
from actors.sites.model import ConnectorId
from actors.sites.optimizer import BaseLoad, Branch, Horizon, Mode, Need, Price, Problem, Supply, plan
from bench.report import write_micro

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HORIZON = Horizon(START, 900, 96)
SIZES = (10, 100, 1000)


ROWS, FEEDERS = 10, 2


def circuits(needs: list[Need]) -> tuple[Branch, ...]:
    """Two feeders of five rows each, connector ``i`` on row ``i % 10`` (see the module docstring)."""
    rows = [needs[r::ROWS] for r in range(ROWS)]

    def cap(on: list[Need], share: float) -> float:
        return share * max(sum(n.max_current for n in on if p in n.phases) for p in (1, 2, 3))

    branches = [
        Branch(f"row-{r}", frozenset(n.connector for n in row), cap(row, 0.6), None, (1.0, 1.0, 1.0))
        for r, row in enumerate(rows)
        if row
    ]
    per_feeder = ROWS // FEEDERS
    for f in range(FEEDERS):
        on = [n for row in rows[f * per_feeder : (f + 1) * per_feeder] for n in row]
        if on:
            load = float(per_feeder)  # its rows' unplanned load
            branches.append(
                Branch(f"feeder-{f}", frozenset(n.connector for n in on), cap(on, 0.5), None, (load,) * 3)
            )
    return tuple(branches)


def problem(
    connectors: int, mode: Mode, seed: int = 13, min_current: float = 6.0, with_circuits: bool = False
) -> Problem:
    rng = random.Random(seed)
    needs = []
    for i in range(connectors):
        phases = (1, 2, 3) if rng.random() < 0.8 else (rng.choice((1, 2, 3)),)
        needs.append(
            Need(
                ConnectorId(f"CP-{i}", 1),
                rng.uniform(5_000, 60_000),
                START + timedelta(hours=rng.uniform(2, 24)),
                rng.choice((16.0, 32.0)),
                phases,
                min_current,
            )
        )
    per_phase = 0.4 * max(sum(n.max_current for n in needs if p in n.phases) for p in (1, 2, 3))
    power = per_phase * 230 * 3
    evening = SourceLimit(
        Source.GRID_OPERATOR,
        Unit.A,
        value=0.75 * per_phase,
        valid_from=START + timedelta(hours=5),
        valid_until=START + timedelta(hours=8),
    )
    base = tuple(
        BaseLoad(START + timedelta(hours=h), (rng.uniform(0, 0.1) * per_phase,) * 3) for h in range(24)
    )
    prices = tuple(Price(START + timedelta(hours=h), round(rng.uniform(0.05, 0.40), 3)) for h in range(24))
    return Problem(
        HORIZON,
        tuple(needs),
        Supply(max_current=per_phase, max_power=power, limits=(evening,)),
        base,
        prices,
        mode,
        peak_target=0.8 * power,
        branches=circuits(needs) if with_circuits else (),
    )


def _timed(given: Problem, plans: int) -> tuple[float, float, float]:
    """Median CPU and wall seconds of ``plans`` plans, and the energy unmet (kWh)."""
    cpu, wall = [], []
    unmet = 0.0
    for _ in range(plans):
        c0, w0 = time.process_time(), time.perf_counter()
        result = plan(given)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        unmet = sum(c.unmet_wh for c in result.connectors) / 1000
    return statistics.median(cpu), statistics.median(wall), unmet


def run() -> dict[str, Any]:
    rows = []
    for size, with_circuits in ((s, c) for s in SIZES for c in (False, True)):
        plans = {10: 5, 100: 3, 1000: 1}[size]
        for mode in Mode:
            given = problem(size, mode, with_circuits=with_circuits)
            cpu, wall, unmet = _timed(given, plans)
            _, _, bound = _timed(problem(size, mode, min_current=0.0, with_circuits=with_circuits), 1)
            needed = sum(n.energy_wh for n in given.needs) / 1000
            rows.append(
                {
                    "connectors": size,
                    "circuits": len(given.branches),
                    "mode": mode.value,
                    "cpu_s": round(cpu, 3),
                    "wall_s": round(wall, 3),
                    "needed_kwh": round(needed, 1),
                    "unmet_kwh": round(unmet, 1),
                    "unmet_without_minimum_kwh": round(bound, 1),
                    "plans": plans,
                }
            )
            print(rows[-1], flush=True)
    return {"slots": HORIZON.slots, "slot_s": HORIZON.slot, "rows": rows}


def _markdown(results: dict[str, Any]) -> str:
    figures = results["figures"]
    return "\n".join(
        [
            "# Charging optimizer micro-benchmark",
            "",
            f"Measured {results['when']} on {results['machine']}, `python -m bench.optimizer_micro`.",
            "This 2-core machine was shared with other builds and their tests while it ran. CPU seconds of",
            "the process (`time.process_time`, HiGHS's threads included) and wall seconds, medians of the",
            "plans timed. Load average when it started (1, 5, 15 min): "
            f"{', '.join(map(str, results['load_average_1_5_15']))}.",
            "",
            f"Input: one site, {figures['slots']} slots of {figures['slot_s']} s (24 h), one car per",
            "connector (5-60 kWh by a departure 2-24 h away, 16 or 32 A, 6 A minimum, 4 in 5 on three",
            "phases); the connection carries 40 % of what all cars could draw at once, 25 % less from 17:00",
            "to 20:00 (a grid operator's limit); hourly non-EV load and prices; a peak target at 80 % of the",
            "power limit.",
            "`unmet` is the energy the plan cannot deliver by departure; `unmet without minimum` is the same",
            "problem with no minimum current (the LP's bound): the difference is what rounding to the 6 A",
            "minimum costs.",
            "With `circuits` 12 the same site has two feeders of five rows each under the connection, the",
            "connectors spread over the rows; a row carries 60 % of what its cars could draw at once, a",
            "feeder 50 % of its rows' (`python -m bench.optimizer_micro` docstring).",
            "",
            "| connectors | circuits | mode | CPU s | wall s | needed kWh | unmet kWh "
            "| unmet without minimum kWh | plans timed |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *(
                f"| {r['connectors']} | {r['circuits']} | `{r['mode']}` | {r['cpu_s']} | {r['wall_s']} | "
                f"{r['needed_kwh']} | {r['unmet_kwh']} | {r['unmet_without_minimum_kwh']} | {r['plans']} |"
                for r in figures["rows"]
            ),
            "",
        ]
    )


def main() -> None:
    write_micro("optimizer-micro", run(), _markdown)


if __name__ == "__main__":
    main()
