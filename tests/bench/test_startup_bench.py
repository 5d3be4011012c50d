"""The large-log generator writes what the real CLI imports and this build would itself record, and the
start-up bench times a real ``chargeward serve`` to ready on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.big_log import LogGenerator, write_export
from bench.startup import measure_start, prepare, to_markdown

CLI = [sys.executable, "-m", "adapters.cli"]
STATIONS = 4
PAGED_STATIONS = 210


def chargeward(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def test_a_generated_log_imports_and_reruns_as_this_build_decides(tmp_path: Path) -> None:
    summary = write_export(tmp_path / "log.msgpack", 1000, stations=STATIONS)
    assert summary["events"] >= 1000 and summary["transactions"] >= STATIONS
    done = chargeward("events", "import", "--data-dir", str(tmp_path / "data"), str(tmp_path / "log.msgpack"))
    assert done.returncode == 0, done.stderr
    assert f"imported {summary['events']} events" in done.stderr

    config = tmp_path / "accepting.toml"  # the generator's policy: every station's tag is on the list
    config.write_text(
        "".join(
            f'[id_tags."TAG-{sid}"]\nstatus = "Accepted"\n' for sid in LogGenerator(STATIONS).station_ids()
        )
    )
    rerun = chargeward(
        "replay", "--data-dir", str(tmp_path / "data"), "--rerun", "--json", "--config", str(config)
    )
    report = json.loads(rerun.stdout)
    assert rerun.returncode == 0 and report["differences"] == 0, report["examples"][:2]
    assert report["stations"] == STATIONS

    stopped = chargeward("replay", "--data-dir", str(tmp_path / "data"), "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert '"stop_reason": "Local"' in stopped.stdout  # whole sessions, not just starts


@pytest.mark.slow
def test_the_bench_starts_the_real_server_on_a_tiny_log_and_reports_ready(tmp_path: Path) -> None:
    log = prepare(tmp_path, 1000, PAGED_STATIONS)  # more stations than one /api/stations page holds
    figures = measure_start(log["data_dir"], log["stations"], log["events"], timeout=90)
    assert figures["ready_s"] > 0
    assert figures["ready_s"] == max(
        figures["ocpp_open_s"], figures["stations_listed_s"], figures["live_complete_s"]
    )
    assert 0 < figures["rss_mib"] <= figures["rss_tree_mib"]
    assert figures["peak_rss_mib"] >= figures["rss_mib"]
    row = {
        **{k: v for k, v in log.items() if k != "data_dir"},
        **figures,
        "rss_growth_mib": 0.0,
        "rss_tree_growth_mib": 0.0,
    }
    assert f"| {log['events']:,} | {PAGED_STATIONS} |" in to_markdown({"rows": [row]})
