"""The large-log generator writes what the real CLI imports and this build would itself record, and the
start-up bench times a real ``chargeward serve`` to ready on it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench.big_log import LogGenerator, write_export
from bench.startup import MODES, drop_snapshots, measure_modes, prepare, to_markdown
from core.codec import unpack

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
    with sqlite3.connect(tmp_path / "data" / "events.db") as db:  # the import checkpointed the state
        (blob,) = db.execute("SELECT blob FROM chargeward_snapshots WHERE key='projection/live'").fetchone()
    assert unpack(blob)["position"] == summary["events"]

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
    runs = measure_modes(log, 1)
    for mode in MODES:
        (figures,) = runs[mode]
        assert figures["ready_s"] > 0
        assert figures["ready_s"] == max(
            figures["ocpp_open_s"], figures["stations_listed_s"], figures["live_complete_s"]
        )
        assert 0 < figures["rss_mib"] <= figures["rss_tree_mib"]
        assert figures["peak_rss_mib"] >= figures["rss_mib"]
    serve_log = (log["data_dir"] / "serve.log").read_text()
    assert serve_log.count("resumed from the checkpoint") == 2, "first and warm resume, refold does not"
    drop_snapshots(log["data_dir"])
    with sqlite3.connect(log["data_dir"] / "events.db") as db:
        assert db.execute("SELECT count(*) FROM chargeward_snapshots").fetchone() == (0,)
    row = {
        **{k: v for k, v in log.items() if k != "data_dir"},
        **{mode: {**runs[mode][0], "rss_growth_mib": 0.0} for mode in MODES},
    }
    assert f"| {log['events']:,} | {PAGED_STATIONS} |" in to_markdown({"rows": [row]})
