"""Server CPU per message of OCPP 2.0.1 stations against 1.6 ones, in one run.

The same steady load (open loop, ``MeterValues=0.7,Heartbeat=0.3``, every station charging) is driven
against a fresh ``chargeward serve`` by stations that all speak 1.6, then all 2.0.1, alternating for a
few rounds so drift in the machine's load falls on both alike; a last run mixes the two halves
(``--ocpp-mix 0.5``) to show they share one server. A 2.0.1 station's ``MeterValues`` is what it
sends while charging: a TransactionEvent Updated with the same ten sampled values
(:mod:`bench.sim_station201`). The figure is the server process's CPU seconds per 1000 answered
messages during the load phase, and 2.0.1's over 1.6's (target: within 20%).

Run ``python -m bench.ocpp201_cpu [--rounds N] [--stations N] [--rate R] [--duration S]``; it writes
``bench/results/ocpp201.json`` and ``.md`` and prints the Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import trio

from bench.loadgen import raise_open_file_limit
from bench.scenarios import Scenario, drive
from bench.servers import running, server_spec

RESULTS = Path(__file__).resolve().parent / "results"
VERSIONS = {"1.6": 0.0, "2.0.1": 1.0, "mixed": 0.5}


async def _runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    spec = server_spec("chargeward", None)
    order = [v for _ in range(args.rounds) for v in ("1.6", "2.0.1")] + ["mixed"]
    runs = []
    for n, version in enumerate(order):
        scenario = Scenario(
            "steady",
            stations=args.stations,
            rates=(args.rate,),
            duration=args.duration,
            seed=n + 1,
            ocpp201_share=VERSIONS[version],
        )
        print(f"ocpp201_cpu: run {n + 1}/{len(order)}: {version}", file=sys.stderr, flush=True)
        async with running(spec) as server:
            result = await drive(server.url, scenario, server)
        step = result["steps"][0]
        runs.append(
            {
                "version": version,
                "answered": step["answered"],
                "achieved_rate": step["achieved_rate"],
                "errors": sum(step["errors"].values()) + sum(result["setup"]["errors"].values()),
                "timeouts": sum(step["timeouts"].values()),
                "server_cpu_s_per_1000": step["server_cpu_s_per_1000"],
                "p50_ms": step["all"].get("p50_ms", 0.0),
                "p99_ms": step["all"].get("p99_ms", 0.0),
                "per_action": sorted(step["per_action"]),
                "set_up": result["setup"]["set_up"],
            }
        )
    return runs


def _figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(version: str) -> float:
        return statistics.median(r["server_cpu_s_per_1000"] for r in runs if r["version"] == version)

    v16, v201 = median("1.6"), median("2.0.1")
    return {"cpu_s_per_1000_16": v16, "cpu_s_per_1000_201": v201, "ratio_201_over_16": v201 / v16}


def markdown(results: dict[str, Any]) -> str:
    figures = results["figures"]
    lines = [
        "# OCPP 2.0.1 against 1.6: server CPU per message",
        "",
        f"Taken {results['when']} on {results['machine']}; load average before the run "
        f"{results['load_before']}, after {results['load_after']}. The machine is shared with other "
        "work (2 cores, several test suites running): absolute figures move with that load, so the "
        "versions alternate in one run and are compared with each other only.",
        "",
        f"Each run: a fresh `chargeward serve` (SQLite), {results['stations']} stations charging, "
        f"open-loop {results['rate']:.0f} msg/s for {results['duration']:.0f} s, mix "
        "MeterValues=0.7,Heartbeat=0.3 (a 2.0.1 station's MeterValues is a TransactionEvent Updated "
        "with the same ten sampled values). CPU: the server process's, during the load phase, per "
        "1000 answered messages.",
        "",
        "| run | stations' version | answered | achieved/s | errors | timeouts | server CPU s/1000 msg "
        "| p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(results["runs"], start=1):
        lines.append(
            f"| {n} | {r['version']} | {r['answered']} | {r['achieved_rate']:.0f} | {r['errors']} | "
            f"{r['timeouts']} | {r['server_cpu_s_per_1000']:.3f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    lines += [
        "",
        f"Median server CPU per 1000 messages: 1.6 **{figures['cpu_s_per_1000_16']:.3f} s**, 2.0.1 "
        f"**{figures['cpu_s_per_1000_201']:.3f} s**: 2.0.1 / 1.6 = **{figures['ratio_201_over_16']:.2f}** "
        "(target: within 20%, 0.80 to 1.20).",
        "",
        "Run to run the same version moves by "
        + ", ".join(
            f"{v} {min(c):.3f} to {max(c):.3f} s"
            for v in ("1.6", "2.0.1")
            if (c := [r["server_cpu_s_per_1000"] for r in results["runs"] if r["version"] == v])
        )
        + " on this loaded machine: a difference between the versions smaller than that spread is not "
        "resolved by this run.",
        "",
        "The mixed run (half the stations of each version on one server) is listed for completeness; "
        "it is not part of the ratio.",
        "",
        "Reproduce: `python -m bench.ocpp201_cpu` (the same load with `chargeward bench --ocpp 2.0.1` "
        "or `--ocpp-mix 0.5`).",
        "",
    ]
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ocpp201_cpu", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    raise_open_file_limit()
    load_before = _load()
    runs = trio.run(_runs, args)
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, CPython {sys.version.split()[0]}",
        "load_before": load_before,
        "load_after": _load(),
        "stations": args.stations,
        "rate": args.rate,
        "duration": args.duration,
        "runs": runs,
        "figures": _figures(runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ocpp201.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    text = markdown(results)
    (args.out / "ocpp201.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
