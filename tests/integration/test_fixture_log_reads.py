"""The fixture log recorded before events were typed serves what the build before them served.

``tests/fixtures/live_session_v1_reads.json`` holds what the build at commit eedca34 (the last one
with untyped ``(str, dict)`` events) answered for this log, through the real CLI: ``chargeward events
import`` of ``live_session_v1.msgpack``, ``chargeward replay --json``, and the API reads of ``chargeward
serve`` (the event-derived ``/metrics`` lines only). This build must answer the same, allowing only keys
added since (the version-neutral fields of docs/design.md); the stored log itself (``/events``) must read
back exactly as it was written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.integration.serving import ROOT, serving

FIXTURE = ROOT / "tests" / "fixtures" / "live_session_v1.msgpack"
EXPECTED = ROOT / "tests" / "fixtures" / "live_session_v1_reads.json"
CLI = [sys.executable, "-m", "adapters.cli"]
# The metrics that come from the log, not from the process serving it.
FROM_THE_LOG = (
    "chargeward_connector",
    "chargeward_station",
    "chargeward_stations",
    "chargeward_transactions",
    "chargeward_power",
    "chargeward_projection_position",
    "chargeward_store_head",
)


def like(old: Any, new: Any) -> Any:
    """``new`` restricted to the keys ``old`` had: keys added since are not compared."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: like(old[k], new.get(k)) for k in old}
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [like(o, n) for o, n in zip(old, new, strict=True)]
    return new


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    imported = cli("events", "import", "--data-dir", str(tmp_path / "data"), str(FIXTURE))
    assert imported.returncode == 0, imported.stderr
    return tmp_path / "data"


@pytest.mark.slow
async def test_the_old_log_serves_and_replays_as_the_old_build_did(data_dir: Path) -> None:
    expected = json.loads(EXPECTED.read_text())
    replayed = cli("replay", "--data-dir", str(data_dir), "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert like(expected["replay --json"], json.loads(replayed.stdout)) == expected["replay --json"]

    args = ("--data-dir", str(data_dir), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args, until=b"API on") as served:
        async with httpx.AsyncClient(base_url=served.api_url) as api:
            with trio.fail_after(60):
                for path, old in expected.items():
                    if not path.startswith("/api/"):
                        continue
                    answer = await api.get(path)
                    new = {"status": answer.status_code, "body": answer.json()}
                    if path.endswith("/events?limit=100"):
                        assert new == old, "the stored log reads back exactly as written"
                    else:
                        assert like(old, new) == old, path
                metrics = (await api.get("/metrics")).text.splitlines()
        assert await served.stop() == 0
    shown = sorted(line for line in metrics if line.startswith(FROM_THE_LOG) and "_created" not in line)
    assert [line for line in shown if "failures" not in line] == expected["/metrics"]


def test_the_old_log_reruns_without_a_difference(data_dir: Path, tmp_path: Path) -> None:
    """The build before typed events re-ran this log with one difference: the ``closed_by`` its
    TransactionStopped lacked (it was logged before the field existed). The upcaster absorbs it."""
    config = tmp_path / "chargeward.toml"  # the policy the fixture was recorded under
    config.write_text('[fleet]\nheartbeat_interval = 120\n\n[id_tags."TAG-OK"]\nstatus = "Accepted"\n')
    done = cli("replay", "--data-dir", str(data_dir), "--rerun", "--config", str(config), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"stations": 1, "frames": 15, "differences": 0, "examples": []}
