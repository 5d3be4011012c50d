"""chargeward as a local controller: what forwarding adds per message, and how fast a backlog drains.

    python -m bench.upstream_forwarding [--stations 200] [--rate 600] [--duration 20]

**Forwarding overhead.** The same steady load (the bench's simulated 1.6 stations, MeterValues and
Heartbeats) runs, in one process and one after the other, against

- ``direct``: the upstream itself, the floor peer (``bench.peers.floor``: canned answers on
  chargeward's WebSocket stack, so the upstream costs next to nothing and what is added is ours);
- ``chargeward``: chargeward alone, answering by its own policy (no ``[upstream]``);
- ``local-controller``: chargeward with ``[upstream]`` pointing at that floor peer: each call is
  validated, forwarded, answered with the upstream's answer, logged, and the answer recorded.

The added p99 is ``local-controller`` less ``direct`` (what a station sees of the local controller
over talking to the upstream itself) and less ``chargeward`` (what forwarding adds to chargeward).

**Catch-up.** chargeward with ``[upstream]`` pointing at a port where nothing listens takes the same
load, answering locally, so every call waits in the log; then the floor peer starts on that port,
and the run times how long the links take to send the backlog (``chargeward_upstream_caught_up_total``
and ``chargeward_upstream_backlog_messages`` on ``/metrics``).

Figures go to ``bench/results/upstream-forwarding.{json,md}`` with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from bench.scenarios import Scenario, drive
from bench.servers import BUILTIN, REPO, ServerSpec, free_port, running

RESULTS = Path(__file__).resolve().parent / "results"


def _local_spec(config: Path) -> ServerSpec:
    base = BUILTIN["chargeward"]
    return ServerSpec("local-controller", (*base.argv, "--config", str(config)), metrics_path="/metrics")


def _config(path: Path, upstream_port: int) -> Path:
    path.write_text(
        f'[upstream]\nurl = "ws://127.0.0.1:{upstream_port}/ocpp"\nreply_timeout = 5\ncall_timeout = 30\n'
        "backoff = 0.5\nbackoff_max = 2\n"
    )
    return path


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rpartition(" ")[2])
    return total


async def _scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=30) as client:
        return (await client.get(url)).text


def _ms(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _latency(run: dict[str, Any]) -> dict[str, Any]:
    step = run["steps"][0]
    return {
        "server": run["server"],
        "answered": step["answered"],
        "achieved_rate": round(step["achieved_rate"], 1),
        "p50_ms": _ms(step["all"].get("p50_ms")),
        "p99_ms": _ms(step["all"].get("p99_ms")),
        "p999_ms": _ms(step["all"].get("p99.9_ms")),
        "max_ms": _ms(step["all"].get("max_ms")),
        "errors": step["errors"],
        "timeouts": step["timeouts"],
        "server_cpu_util": step.get("server_cpu_util"),
    }


async def forwarding(scenario: Scenario, tmp: Path) -> dict[str, Any]:
    rows = []
    async with running(BUILTIN["floor"]) as upstream:
        rows.append(_latency({**await drive(upstream.url, scenario, upstream), "server": "direct"}))
        async with running(BUILTIN["chargeward"]) as alone:
            rows.append(_latency(await drive(alone.url, scenario, alone)))
        async with running(_local_spec(_config(tmp / "local.toml", upstream.port))) as local:
            rows.append(_latency(await drive(local.url, scenario, local)))
            assert local.metrics_url is not None
            text = await _scrape(local.metrics_url)
    answered_live = _metric(text, 'chargeward_upstream_calls_total{answer="live"}')
    answered_local = _metric(text, 'chargeward_upstream_calls_total{answer="local"}')
    by = {row["server"]: row for row in rows}
    added = {
        name: round(by["local-controller"][p] - by[name][p], 3)
        for name in ("direct", "chargeward")
        for p in ("p99_ms",)
        if by["local-controller"][p] is not None and by[name][p] is not None
    }
    return {
        "runs": rows,
        "added_p99_ms_over": added,
        "calls_answered": {"live": answered_live, "local": answered_local},
    }


async def catch_up(scenario: Scenario, tmp: Path) -> dict[str, Any]:
    upstream_port = free_port()
    async with running(_local_spec(_config(tmp / "catch-up.toml", upstream_port))) as local:
        await drive(local.url, scenario, local)
        assert local.metrics_url is not None
        while True:  # every link has counted its backlog since the last call
            before = await _scrape(local.metrics_url)
            if _metric(before, 'chargeward_upstream_links{state="down"}') >= scenario.stations:
                break
            await trio.sleep(0.5)
        await trio.sleep(3)
        before = await _scrape(local.metrics_url)
        backlog = _metric(before, "chargeward_upstream_backlog_messages")
        stored = _metric(before, 'chargeward_upstream_calls_total{answer="local"}')
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "bench.peers.floor", "--port", str(upstream_port)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.monotonic()
        try:
            while True:
                text = await _scrape(local.metrics_url)
                live = _metric(text, 'chargeward_upstream_links{state="live"}')
                if live >= scenario.stations and _metric(text, "chargeward_upstream_backlog_messages") == 0:
                    break
                if time.monotonic() - started > 600:
                    raise RuntimeError("the backlog did not drain within 10 minutes")
                await trio.sleep(0.2)
            seconds = time.monotonic() - started
            sent = _metric(text, "chargeward_upstream_caught_up_total")
        finally:
            process.kill()
            await process.wait()
    return {
        "calls_answered_locally": stored,
        "backlog_counted": backlog,
        "sent_from_the_log": sent,
        "seconds_to_drain": round(seconds, 2),
        "sent_per_second": round(sent / seconds, 1) if seconds else None,
    }


def markdown(results: dict[str, Any]) -> str:
    f = results["forwarding"]
    c = results["catch_up"]
    lines = [
        "# Local controller: forwarding overhead and catch-up speed",
        "",
        f"{results['when']}, {results['machine']}, load average {results['load_average_1_5_15']} "
        "(a shared 2-core machine: other work ran beside it; compare the rows of one run, not runs).",
        f"Scenario: {results['scenario']}.",
        "",
        "| server | answered | achieved msg/s | p50 ms | p99 ms | p99.9 ms | max ms | server CPU | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in f["runs"]:
        cpu = f"{row['server_cpu_util']:.0%}" if row["server_cpu_util"] is not None else "-"
        errors = sum(row["errors"].values()) + sum(row["timeouts"].values())
        lines.append(
            f"| {row['server']} | {row['answered']} | {row['achieved_rate']} | {row['p50_ms']} | "
            f"{row['p99_ms']} | {row['p999_ms']} | {row['max_ms']} | {cpu} | {errors} |"
        )
    lines += [
        "",
        f"Added p99 of the local controller: {f['added_p99_ms_over'].get('direct')} ms over the upstream "
        f"directly, {f['added_p99_ms_over'].get('chargeward')} ms over chargeward alone (target: <= 2 ms "
        "over a direct connection). Calls answered with the upstream's answer: "
        f"{f['calls_answered']['live']:.0f}; by the local policy: {f['calls_answered']['local']:.0f}.",
        "",
        f"Catch-up: {c['calls_answered_locally']:.0f} calls answered locally while the upstream was away "
        f"({c['backlog_counted']:.0f} still to send once heartbeats are coalesced); "
        f"{c['sent_from_the_log']:.0f} sent in {c['seconds_to_drain']} s once it was back: "
        f"**{c['sent_per_second']} msg/s** (target: >= 1,000 msg/s).",
        "",
    ]
    return "\n".join(lines)


async def main(stations: int, rate: float, duration: float) -> dict[str, Any]:
    scenario = Scenario("steady", stations=stations, rates=(rate,), duration=duration)
    with tempfile.TemporaryDirectory(prefix="bench-upstream-") as tmp:
        forwarded = await forwarding(scenario, Path(tmp))
        caught_up = await catch_up(scenario, Path(tmp))
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, CPython {sys.version.split()[0]}",
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "scenario": f"steady, {stations} stations, {rate:g} msg/s offered for {duration:g} s, "
        f"mix {scenario.mix}",
        "forwarding": forwarded,
        "catch_up": caught_up,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--rate", type=float, default=600.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--label", default="upstream-forwarding")
    args = parser.parse_args()
    figures = trio.run(main, args.stations, args.rate, args.duration)
    (RESULTS / f"{args.label}.json").write_text(json.dumps(figures, indent=1) + "\n")
    (RESULTS / f"{args.label}.md").write_text(markdown(figures))
    print(markdown(figures))
