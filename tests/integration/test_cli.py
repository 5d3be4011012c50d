"""The command line as an operator or a debugging engineer uses it, in subprocesses.

``serve --config`` runs what the file says: its ``[[modbus.devices]]`` are polled (pymodbus's own
server, tests/modbus/peer_server.py, as the meter) and their readings reach ``/api`` and ``/metrics``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from adapters.csms import Csms
from adapters.stores import open_store
from tests.integration.conftest import disconnected
from tests.integration.peer import peer_station
from tests.integration.serving import ROOT, serving
from tests.integration.test_fixture_replay import replay_fixture
from tests.modbus.conftest import Peer
from tests.modbus_actors.conftest import listening

CLI = [sys.executable, "-m", "adapters.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


async def test_replay_export_and_import_from_the_command_line(csms: Csms, tmp_path: Path) -> None:
    await replay_fixture(csms, "CLI-1")
    await disconnected(csms, "CLI-1")
    data_dir = str(csms.config.data_dir)
    replayed = await trio.to_thread.run_sync(
        run, "replay", "--data-dir", data_dir, "--station", "CLI-1", "--json"
    )
    assert replayed.returncode == 0, replayed.stderr
    state = json.loads(replayed.stdout)
    assert state["stations"][0]["boot"]["vendor"] == "Chargedot"
    timeline = await trio.to_thread.run_sync(run, "replay", "--data-dir", data_dir, "--station", "CLI-1")
    lines = timeline.stdout.splitlines()
    assert any("StationBooted" in line for line in lines)
    assert any("<- #1" in line and '"5281674"' in line and "BootNotification" in line for line in lines)

    export = tmp_path / "log.msgpack"
    exported = await trio.to_thread.run_sync(
        run, "events", "export", "--data-dir", data_dir, "--out", str(export)
    )
    assert exported.returncode == 0 and "exported" in exported.stderr
    target = tmp_path / "copy"
    imported = await trio.to_thread.run_sync(run, "events", "import", "--data-dir", str(target), str(export))
    assert imported.returncode == 0, imported.stderr
    again = await trio.to_thread.run_sync(
        run, "replay", "--data-dir", str(target), "--station", "CLI-1", "--json"
    )
    assert json.loads(again.stdout) == state, "the imported log replays to the same state"


def test_bad_input_on_the_command_line_is_a_clear_error(tmp_path: Path) -> None:
    missing = run("replay", "--data-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no event store at" in missing.stderr
    garbage = tmp_path / "garbage.msgpack"
    garbage.write_bytes(b"\x93\x01\x02")
    refused = run("events", "import", "--data-dir", str(tmp_path / "t"), str(garbage))
    assert refused.returncode == 2 and "not a chargeward export" in refused.stderr
    bad_config = tmp_path / "c.toml"
    bad_config.write_text("[fleet]\nheartbeat_intervall = 5\n")
    config_error = run("serve", "--data-dir", str(tmp_path), "--config", str(bad_config))
    assert config_error.returncode == 2
    assert f"{bad_config}: fleet.heartbeat_intervall: unknown key" in config_error.stderr
    for url, problem in [
        (f"sqlite://{tmp_path}/e.db?committer=fork", "committer must be 'process' or 'thread'"),
        ("mysql://localhost/events", "known schemes: memory, postgres, postgresql, sqlite"),
        ("postgres://localhost/events", "postgresql URL names no user"),
    ]:
        bad_store = run("serve", "--store", url, "--ocpp-port", "0", "--api-port", "0")
        [line] = bad_store.stderr.splitlines()  # one line, no traceback
        assert bad_store.returncode == 2 and line.startswith("chargeward: ") and problem in line


async def test_serve_demo_shows_live_stations_at_once(tmp_path: Path) -> None:
    args = ("--data-dir", str(tmp_path), "--ocpp-port", "0", "--api-port", "0", "--demo", "3")
    async with serving(*args, until=b"demo stations") as served:
        async with httpx.AsyncClient(base_url=served.api_url) as client:
            with trio.fail_after(30):
                while True:
                    stations = (await client.get("/api/stations")).json()["stations"]
                    charging = [
                        s
                        for s in stations
                        if s["connected"] and any(c["transaction_id"] for c in s["connectors"])
                    ]
                    if len(charging) == 3:
                        break
                    await trio.sleep(0.5)
        assert await served.stop() == 0


#: Address 20 of the peer's unit 1 holds 230.5 as a big-endian FLOAT32 (peer_server.LAYOUT).
PROFILE = """
[profile]
name = "pymodbus peer, unit 1"
kind = "meter"

[points.voltage]
address = 20
function = "holding"
type = "float32"
word_order = "big"
unit = "V"
measurand = "Voltage"
phase = "L1-N"
"""


@pytest.fixture
def modbus_peer() -> Iterator[Peer]:
    peer = Peer("socket")
    peer.start()
    yield peer
    peer.stop()


@pytest.mark.slow
async def test_serve_polls_the_modbus_devices_of_its_config_file(tmp_path: Path, modbus_peer: Peer) -> None:
    await listening(modbus_peer.port)
    (tmp_path / "peer_meter.toml").write_text(PROFILE)
    config = tmp_path / "chargeward.toml"
    config.write_text(
        f"""
[[modbus.devices]]
id = "meter-cli"
transport = "tcp"
host = "127.0.0.1"
port = {modbus_peer.port}
unit = 1
profile = "peer_meter.toml"
interval = 0.2
station = "MB-CLI"
connector = 1
"""
    )
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        found = re.search(r"OCPP on (ws://127\.0\.0\.1:\d+/ocpp)/", served.banner)
        assert found is not None, served.banner
        async with (
            peer_station(found.group(1), "MB-CLI") as station,
            httpx.AsyncClient(base_url=served.api_url) as client,
        ):
            await station.call("StatusNotification", connector_id=1, error_code="NoError", status="Charging")
            voltage: dict[str, float] = {}
            with trio.fail_after(60):
                while voltage.get("L1-N") != 230.5:
                    await trio.sleep(0.2)
                    response = await client.get("/api/stations/MB-CLI")
                    if response.status_code == 200:
                        voltage = response.json()["connectors"][0]["voltage_v"]
            metrics = (await client.get("/metrics")).text
        value = re.search(r'^chargeward_modbus_value\{device="meter-cli",[^}]*\} (\S+)$', metrics, re.M)
        assert value is not None and float(value.group(1)) == 230.5, metrics
        polls = re.search(r'^chargeward_modbus_polls_total\{device="meter-cli"\} (\S+)$', metrics, re.M)
        assert polls is not None and float(polls.group(1)) >= 1
        assert await served.stop() == 0


async def test_the_log_commands_find_the_store_the_config_names(tmp_path: Path) -> None:
    """``[store] url`` (or CHARGEWARD_STORE_URL) names the store for replay and events as for serve."""
    url = f"sqlite:///{tmp_path / 'site' / 'events.db'}"
    (tmp_path / "site").mkdir()
    async with open_store(url):
        pass
    config = tmp_path / "chargeward.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    elsewhere = str(tmp_path / "no-store-here")
    from_file = await trio.to_thread.run_sync(
        run, "replay", "--config", str(config), "--data-dir", elsewhere, "--json"
    )
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["stations"] == [], "the (empty) store of the file, not --data-dir"
    environ = {**os.environ, "CHARGEWARD_STORE_URL": url}
    from_environment = await trio.to_thread.run_sync(
        lambda: subprocess.run(
            [*CLI, "events", "export", "--data-dir", elsewhere, "--out", str(tmp_path / "x")],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=environ,
        )
    )  # fmt: skip
    assert from_environment.returncode == 0, from_environment.stderr
