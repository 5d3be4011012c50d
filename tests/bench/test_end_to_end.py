"""Small bench runs against the real peers (the floor and the ocpp-package CSMS) as subprocesses.

They prove the harness works end to end: servers start on 127.0.0.1 and stop, worker processes
connect, boot, charge and stop, the numbers come back and reports are written. Timings are not asserted.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from bench.report import knee
from bench.runner import bench_main, simulate_main
from bench.scenarios import Scenario, drive, means_between, store_histograms
from bench.servers import BUILTIN, REPO, free_port, running


@pytest.mark.parametrize("server", ["floor", "ocpp-peer"])
async def test_steady_run_against_a_peer(server: str) -> None:
    scenario = Scenario("steady", stations=3, rates=(40.0,), duration=1.5, workers=2)
    async with running(BUILTIN[server]) as srv:
        result = await drive(srv.url, scenario, srv)
    assert srv.process.returncode is not None  # the server was stopped
    setup, step = result["setup"], result["steps"][0]
    assert setup["connected"] == setup["set_up"] == 3 and result["workers"] == 2
    assert setup["per_action"]["BootNotification"]["count"] == 3
    assert setup["per_action"]["StartTransaction"]["count"] == 3
    assert step["errors"] == {} and step["timeouts"] == {}
    assert set(step["per_action"]) <= {"MeterValues", "Heartbeat"} and step["answered"] > 0
    a = step["all"]
    assert 0 < a["p50_ms"] <= a["p90_ms"] <= a["p99_ms"] <= a["p99.9_ms"] <= a["max_ms"]
    assert result["teardown"]["per_action"]["StopTransaction"]["count"] == 3
    assert result["server_process"]["cpu_load_s"] >= 0 and result["server_process"]["rss_connected_mib"] > 1


def test_bench_command_writes_json_markdown_and_plot(tmp_path: Path) -> None:
    code = bench_main(
        [
            "--scenario",
            "ramp",
            "--stations",
            "2",
            "--rate",
            "20,40",
            "--duration",
            "1",
            "--servers",
            "floor",
            "--out",
            str(tmp_path),
            "--label",
            "tiny",
        ]
    )
    assert code == 0
    runs = json.loads((tmp_path / "tiny.json").read_text())
    assert [s["offered_rate"] for s in runs[0]["steps"]] == [20.0, 40.0]
    assert "| floor | ramp | 2 | 40 |" in (tmp_path / "tiny.md").read_text()
    assert (tmp_path / "tiny.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_reports_a_server_that_cannot_start(tmp_path: Path) -> None:
    code = bench_main(
        [
            "--scenario",
            "storm",
            "--stations",
            "1",
            "--servers",
            "broken",
            "--server-cmd",
            "broken={python} -c 'raise SystemExit(3)'",
            "--out",
            str(tmp_path),
            "--label",
            "b",
        ]
    )
    assert code == 1
    runs = json.loads((tmp_path / "b.json").read_text())
    assert "exited with 3" in runs[0]["error"]


def test_simulate_refuses_bad_input() -> None:
    with pytest.raises(SystemExit):
        simulate_main(["--url", "http://127.0.0.1:1/ocpp"])
    with pytest.raises(SystemExit):
        simulate_main(["--url", "ws://127.0.0.1:1/ocpp", "--mix", "Reset=1"])


def test_commit_means_cover_only_the_observations_between_two_scrapes() -> None:
    registry = CollectorRegistry()
    batch = Histogram(
        "chargeward_store_batch_events", "events per commit", registry=registry, buckets=(1, 10, 100)
    )
    latency = Histogram("chargeward_store_commit_seconds", "commit latency", registry=registry)
    Histogram("chargeward_frame_seconds", "not a store metric", registry=registry).observe(1.0)
    batch.observe(1)  # setup, before the load phase
    before = store_histograms(generate_latest(registry).decode())
    for size in (10, 30, 50):
        batch.observe(size)
    latency.observe(0.004)
    means = means_between(before, store_histograms(generate_latest(registry).decode()))
    assert means == {
        "chargeward_store_batch_events_mean": 30.0,
        "chargeward_store_batch_events_observations": 3.0,
        "chargeward_store_commit_seconds_mean": 0.004,
        "chargeward_store_commit_seconds_observations": 1.0,
    }


def test_knee_is_the_last_step_before_the_server_falls_behind() -> None:
    def step(rate: float, achieved: float, p99: float) -> dict[str, Any]:
        return {"offered_rate": rate, "achieved_rate": achieved, "all": {"p99_ms": p99}}

    assert knee([step(200, 200, 3), step(100, 100, 2), step(400, 399, 9), step(800, 790, 40)]) == 400
    assert knee([step(100, 100, 2), step(200, 150, 2)]) == 100  # achieved fell short
    assert knee([step(100, 90, 2)]) is None
    assert knee([]) is None


def test_simulate_drives_a_csms_it_did_not_start(tmp_path: Path) -> None:
    port = free_port()
    floor = subprocess.Popen([sys.executable, "-m", "bench.peers.floor", "--port", str(port)], cwd=REPO)
    try:
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        out = tmp_path / "sim.json"
        code = simulate_main(
            [
                "--url",
                f"ws://127.0.0.1:{port}/ocpp",
                "--stations",
                "2",
                "--rate",
                "20",
                "--duration",
                "1",
                "--json",
                str(out),
            ]
        )
        assert code == 0
        result = json.loads(out.read_text())
        assert result["server"].startswith("ws://127.0.0.1") and result["setup"]["set_up"] == 2
        assert result["server_process"] == {}  # nothing to sample in a server we did not start
    finally:
        floor.terminate()
        floor.wait(timeout=10)
