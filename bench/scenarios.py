"""Bench scenarios and their orchestration: split stations over worker processes, start them together,
sample the server's CPU and RSS between phases, merge what the workers recorded into one result.

- storm: every station connects and boots at the same instant; settle time = until the last Accepted.
- steady: open-loop Poisson arrivals at one rate with a message mix (default 70% MeterValues / 30%
  Heartbeat), latency from the scheduled send time.
- ramp: steady at increasing rates on the same connections, to find the knee.
- saturation: closed loop, every station sends again as soon as it is answered; gives max throughput
  (closed-loop latency is not corrected for coordinated omission, so read it as throughput only).
"""

from __future__ import annotations

import base64
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE
from typing import Any

import msgpack
import trio
from prometheus_client.parser import text_string_to_metric_families

from bench.loadgen import LineReader, Step, WorkerPlan
from bench.servers import RunningServer
from bench.sim_station import Recorder, parse_mix
from bench.stats import LatencySamples

SCENARIOS = ("storm", "steady", "ramp", "saturation")
DEFAULT_MIX = "MeterValues=0.7,Heartbeat=0.3"
STATIONS_PER_WORKER = 2500
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scenario:
    """One run's shape; ``rates`` holds one rate for steady and the steps for ramp."""

    name: str
    stations: int
    rates: tuple[float, ...] = (100.0,)
    duration: float = 10.0
    mix: str = DEFAULT_MIX
    workers: int | None = None
    timeout: float = 10.0
    connect_timeout: float = 30.0  # like a charger's: a storm queues handshakes for many seconds
    connectors: int = 1
    seed: int = 1
    setup_deadline: float = 120.0
    ocpp201_share: float = 0.0  # the share of stations speaking OCPP 2.0.1 (the rest 1.6)
    ca_file: str | None = None  # for a wss:// server: the CA its certificate is checked against
    password: str | None = None  # every station's HTTP Basic password (security profiles 1 and 2)

    def __post_init__(self) -> None:
        if not 0.0 <= self.ocpp201_share <= 1.0:
            raise ValueError(f"the 2.0.1 share must be between 0 and 1, got {self.ocpp201_share}")
        if self.name not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.name!r}; choose from {', '.join(SCENARIOS)}")
        if self.stations < 1:
            raise ValueError("need at least one station")
        if self.name in ("steady", "ramp") and (not self.rates or min(self.rates) <= 0):
            raise ValueError(f"{self.name} needs positive rates, got {self.rates}")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        parse_mix(self.mix)  # fails early with a clear message

    def steps(self) -> list[Step]:
        if self.name == "storm":
            return []
        if self.name == "saturation":
            return [Step(None, self.duration)]
        if self.name == "steady":
            return [Step(self.rates[0], self.duration)]
        return [Step(rate, self.duration) for rate in self.rates]

    def worker_count(self) -> int:
        if self.workers is not None:
            return max(1, min(self.workers, self.stations))
        return max(1, math.ceil(self.stations / STATIONS_PER_WORKER))

    def plans(self, url: str | Sequence[str]) -> list[WorkerPlan]:
        """One plan per worker; with several URLs (nodes of one CSMS), worker w drives ``url[w % n]``."""
        urls = [url] if isinstance(url, str) else list(url)
        ids = [f"sim{self.seed}-{i:05d}" for i in range(self.stations)]
        # spread evenly: station i speaks 2.0.1 when the running share crosses a whole station there
        share = self.ocpp201_share
        speak_201 = [i for i in range(self.stations) if int((i + 1) * share) > int(i * share)]
        count = self.worker_count()
        return [
            WorkerPlan(
                url=urls[w % len(urls)],
                station_ids=ids[w::count],
                total_stations=self.stations,
                steps=self.steps(),
                mix=self.mix,
                connectors=self.connectors,
                charging=self.name != "storm",
                timeout=self.timeout,
                connect_timeout=self.connect_timeout,
                setup_deadline=self.setup_deadline,
                seed=self.seed * 100 + w,
                ocpp201_ids=[ids[i] for i in speak_201 if i % count == w],
                ca_file=self.ca_file,
                password=self.password,
            )
            for w in range(count)
        ]


@dataclass
class _WorkerProc:
    process: trio.Process
    lines: LineReader
    replies: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        assert self.process.stdin is not None
        await self.process.stdin.send_all(text.encode() + b"\n")

    async def expect(self, event: str) -> dict[str, Any]:
        while True:
            try:
                line = await self.lines.readline()
            except EOFError:
                raise RuntimeError(f"load worker {self.process.pid} exited before {event!r}") from None
            message: dict[str, Any] = json.loads(line)
            if message.get("event") == event:
                return message


async def _http_get(url: str) -> str:
    """A plain GET on a worker thread (the /metrics scrape happens twice per run)."""
    import urllib.request

    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:
            body: bytes = response.read()
            return body.decode()

    return await trio.to_thread.run_sync(fetch)


Totals = dict[str, tuple[float, float]]


def store_histograms(text: str) -> Totals:
    """(sum, count) of every commit or batch histogram in a Prometheus exposition."""
    totals: Totals = {}
    for family in text_string_to_metric_families(text):
        wanted = "commit" in family.name or "batch" in family.name
        if family.type not in ("histogram", "summary") or not wanted:
            continue
        total = count = 0.0
        for sample in family.samples:
            if sample.name.endswith("_sum"):
                total += sample.value
            elif sample.name.endswith("_count"):
                count += sample.value
        totals[family.name] = (total, count)
    return totals


def means_between(before: Totals, after: Totals) -> dict[str, float]:
    """Mean of each histogram over the observations made between two scrapes (e.g. the load phase)."""
    means: dict[str, float] = {}
    for name, (total, count) in after.items():
        total0, count0 = before.get(name, (0.0, 0.0))
        if count > count0:
            means[f"{name}_mean"] = (total - total0) / (count - count0)
            means[f"{name}_observations"] = count - count0
    return means


async def _scrape(server: RunningServer | None) -> Totals | None:
    """The server's commit histograms now, or None without a metrics endpoint or when it fails."""
    if server is None or server.metrics_url is None:
        return None
    try:
        return store_histograms(await _http_get(server.metrics_url))
    except (OSError, ValueError) as exc:
        print(f"metrics scrape of {server.metrics_url} failed: {exc}", file=sys.stderr)
        return None


def _summaries(recorder: Recorder) -> dict[str, Any]:
    everything = LatencySamples()
    for samples in recorder.latencies.values():
        everything.merge(samples)
    return {
        "answered": recorder.answered(),
        "all": everything.summary(),
        "per_action": {a: s.summary() for a, s in sorted(recorder.latencies.items())},
        "errors": dict(recorder.errors),
        "timeouts": dict(recorder.timeouts),
        "late_replies": recorder.late_replies,
        "malformed": recorder.malformed,
        "csms_calls_answered": recorder.csms_calls_answered,
        "disconnects": recorder.disconnects,
        "send_lag": recorder.send_lag.summary(),
    }


async def drive(
    url: str | Sequence[str], scenario: Scenario, server: RunningServer | None = None
) -> dict[str, Any]:
    """Run ``scenario`` against the CSMS at ``url``; with ``server``, also sample its CPU and RSS."""
    plans = scenario.plans(url)
    workers: list[_WorkerProc] = []
    try:
        for plan in plans:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "bench.loadgen"], stdin=PIPE, stdout=PIPE, cwd=REPO
            )
            assert process.stdout is not None
            workers.append(_WorkerProc(process, LineReader(process.stdout)))
            await workers[-1].send(plan.to_json())
        for w in workers:
            await w.expect("started")
        rss_base = server.rss_bytes() if server else 0

        go = time.time() + 0.3
        for w in workers:
            await w.send({"go": go})
        connected = [await w.expect("connected") for w in workers]
        storm_wall = time.time() - go
        rss_connected = server.rss_bytes() if server else 0

        metrics_before = await _scrape(server)
        load_go = time.time() + 0.3
        for w in workers:
            await w.send({"go": load_go})
        await trio.sleep(max(0.0, load_go - time.time()))
        boundaries = [(trio.current_time(), server.cpu_seconds() if server else 0.0)]
        for step in scenario.steps():
            await trio.sleep_until(boundaries[-1][0] + step.duration)
            boundaries.append((trio.current_time(), server.cpu_seconds() if server else 0.0))
        loaded = [await w.expect("loaded") for w in workers]
        load_wall = trio.current_time() - boundaries[0][0]
        cpu_after_load = server.cpu_seconds() if server else 0.0
        rss_loaded = server.rss_bytes() if server else 0
        metrics_after = await _scrape(server)
        metrics = means_between(metrics_before, metrics_after) if metrics_before and metrics_after else {}
        results = [msgpack.unpackb(base64.b64decode((await w.expect("result"))["blob"])) for w in workers]
        for w in workers:
            await w.process.wait()
    finally:
        with trio.CancelScope(shield=True):
            for w in workers:
                if w.process.returncode is None:
                    w.process.kill()
                    await w.process.wait()

    setup, teardown = Recorder(), Recorder()
    step_recorders = [Recorder() for _ in scenario.steps()]
    accepted: list[float] = []
    ready: list[float] = []
    for r in results:
        setup.merge(Recorder.from_wire(r["setup"]))
        teardown.merge(Recorder.from_wire(r["teardown"]))
        for mine, theirs in zip(step_recorders, r["steps"], strict=True):
            mine.merge(Recorder.from_wire(theirs))
        accepted += r["accepted_offsets"]
        ready += r["ready_offsets"]

    steps_out = []
    for i, (step, rec) in enumerate(zip(scenario.steps(), step_recorders, strict=True)):
        out = _summaries(rec)
        out["offered_rate"] = step.rate
        out["duration_s"] = step.duration
        out["achieved_rate"] = rec.answered() / step.duration
        if server is not None:
            cpu = boundaries[i + 1][1] - boundaries[i][1]
            out["server_cpu_s"] = cpu
            out["server_cpu_util"] = cpu / step.duration
            out["server_cpu_s_per_1000"] = 1000.0 * cpu / rec.answered() if rec.answered() else None
        steps_out.append(out)

    answered = sum(rec.answered() for rec in step_recorders)
    generator_cpu = sum(r["cpu_load_s"] for r in results)
    out_server: dict[str, Any] = {}
    if server is not None:
        n_connected = sum(c["connected"] for c in connected)
        load_cpu = cpu_after_load - boundaries[0][1]
        out_server = {
            "rss_base_mib": rss_base / 2**20,
            "rss_connected_mib": rss_connected / 2**20,
            "rss_after_load_mib": rss_loaded / 2**20,
            "rss_per_station_kib": (rss_connected - rss_base) / 1024 / n_connected if n_connected else None,
            "rss_total_per_station_kib": rss_connected / 1024 / n_connected if n_connected else None,
            "cpu_load_s": load_cpu,
            "cpu_s_per_1000_msgs": 1000.0 * load_cpu / answered if answered else None,
            "metrics": metrics,
        }
    return {
        "server": server.spec.name if server else url,
        "scenario": scenario.name,
        "stations": scenario.stations,
        "workers": len(plans),
        "mix": scenario.mix,
        "ocpp201_share": scenario.ocpp201_share,
        "setup": {
            "connected": sum(c["connected"] for c in connected),
            "set_up": sum(c["set_up"] for c in connected),
            "settle_s": max(accepted) if accepted else None,
            "ready_s": max(ready) if ready else None,
            "storm_wall_s": storm_wall,
            **_summaries(setup),
        },
        "steps": steps_out,
        "teardown": _summaries(teardown),
        "server_process": out_server,
        "generator": {
            "cpu_setup_s": sum(c["cpu_setup_s"] for c in connected),
            "max_worker_setup_util": max(c["cpu_setup_s"] for c in connected) / storm_wall,
            "cpu_load_s": generator_cpu,
            "cpu_util": generator_cpu / load_wall if load_wall > 0 else None,
            "max_worker_util": max(x["cpu_load_s"] for x in loaded) / load_wall if load_wall > 0 else None,
            "cpu_us_per_msg": 1e6 * generator_cpu / answered if answered else None,
            "maxrss_kib_per_station": max(r["maxrss_kib"] / max(r["stations"], 1) for r in results),
        },
    }
