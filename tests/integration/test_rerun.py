"""``chargeward replay --rerun`` over a log the real ``chargeward serve`` recorded, in subprocesses.

A real station (the ``ocpp`` package's ChargePoint) boots, reports statuses, authorizes a known and
an unknown tag, runs a metered transaction, answers an operator's command and stops; then the
re-run of that log decides as recorded (exit 0), a config with another ``unknown_id_tags`` reports
exactly the decisions it changes (exit 1), and what cannot be re-run is one line and exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from actors.commands import Command, CommandRejected, CommandTimedOut
from actors.events.station import CommandCompleted, FrameReceived
from actors.policy import StationPolicy
from actors.rerun import rerun_station
from adapters.csms import open_csms
from tests.integration.conftest import make_config, url_of
from tests.integration.peer import PeerCallFailed, peer_station
from tests.integration.serving import ROOT, serving
from tests.shared_fixtures import CHARGEDOT_SESSION

CLI = [sys.executable, "-m", "adapters.cli"]

CONFIG = """
[fleet]
heartbeat_interval = 120

[id_tags."TAG-OK"]
status = "Accepted"
"""


def rerun(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*CLI, "replay", "--data-dir", str(data_dir), "--rerun", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


async def record_session(data_dir: Path, config: Path) -> None:
    """Serve with ``config`` and drive one station through a whole charging session."""
    args = ("--data-dir", str(data_dir), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args, until=b"API on") as served:
        port = served.banner.split("ws://127.0.0.1:")[1].split("/")[0]
        async with peer_station(f"ws://127.0.0.1:{port}/ocpp", "RR-1") as station:
            boot = await station.call("BootNotification", charge_point_model="M", charge_point_vendor="Acme")
            assert boot["status"] == "Accepted"
            await station.call("Heartbeat")
            for connector in (0, 1):
                await station.call(
                    "StatusNotification", connector_id=connector, error_code="NoError", status="Available"
                )
            unknown = await station.call("Authorize", id_tag="TAG-UNKNOWN")
            assert unknown["id_tag_info"]["status"] == "Invalid"
            known = await station.call("Authorize", id_tag="TAG-OK")
            assert known["id_tag_info"]["status"] == "Accepted"
            started = await station.call(
                "StartTransaction",
                connector_id=1,
                id_tag="TAG-OK",
                meter_start=1000,
                timestamp="2026-11-21T10:00:00Z",
            )
            tx = started["transaction_id"]
            await station.call("StatusNotification", connector_id=1, error_code="NoError", status="Charging")
            async with httpx.AsyncClient(base_url=served.api_url) as api:
                with trio.fail_after(30):
                    answer = await api.post(
                        "/api/stations/RR-1/commands/ChangeConfiguration",
                        json={"key": "MeterValueSampleInterval", "value": "60"},
                    )
            assert answer.status_code == 200, answer.text
            for wh in (1500, 2000):
                await station.call(
                    "MeterValues",
                    connector_id=1,
                    transaction_id=tx,
                    meter_value=[
                        {
                            "timestamp": "2026-11-21T10:01:00Z",
                            "sampledValue": [
                                {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                            ],
                        }
                    ],
                )
            with pytest.raises(PeerCallFailed):  # a refused call is recorded and re-run as well
                await station.call(
                    "StatusNotification", connector_id=999, error_code="NoError", status="Available"
                )
            await station.call(
                "StopTransaction",
                transaction_id=tx,
                id_tag="TAG-OK",
                meter_stop=2500,
                timestamp="2026-11-21T10:05:00Z",
                reason="Local",
            )
        assert await served.stop() == 0


@pytest.mark.slow
async def test_a_recorded_session_reruns_as_recorded_and_a_changed_policy_shows(tmp_path: Path) -> None:
    config = tmp_path / "chargeward.toml"
    config.write_text(CONFIG)
    await record_session(tmp_path / "data", config)

    same = rerun(tmp_path / "data", "--config", str(config))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "re-ran 13 frames of 1 stations: 0 differences" in same.stdout
    as_json = json.loads(
        rerun(tmp_path / "data", "--config", str(config), "--json", "--station", "RR-1").stdout
    )
    assert as_json == {"stations": 1, "frames": 13, "differences": 0, "examples": []}

    accepting = tmp_path / "accepting.toml"
    accepting.write_text(
        CONFIG.replace("heartbeat_interval = 120", 'heartbeat_interval = 120\nunknown_id_tags = "Accepted"')
    )
    changed = rerun(tmp_path / "data", "--config", str(accepting), "--json")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    report = json.loads(changed.stdout)
    assert (report["stations"], report["frames"], report["differences"]) == (1, 13, 2)
    recorded, rerun_ = [e["recorded"] for e in report["examples"]], [e["rerun"] for e in report["examples"]]
    assert recorded[0] == {
        "type": "Authorized",
        "data": {
            "v": 2,
            "id_token": {"id": "TAG-UNKNOWN", "type": None},
            "status": "Invalid",
            "expiry": None,
            "parent": None,
        },
    }
    assert rerun_[0]["data"]["status"] == "Accepted"
    assert recorded[1]["type"] == rerun_[1]["type"] == "FrameSent"
    assert '"Invalid"' in recorded[1]["data"]["text"] and '"Accepted"' in rerun_[1]["data"]["text"]
    printed = rerun(tmp_path / "data", "--config", str(accepting))
    assert printed.returncode == 1
    assert "station RR-1: 13 frames, 2 differences" in printed.stdout
    assert "recorded: Authorized" in printed.stdout and "re-run:   Authorized" in printed.stdout

    # The default policy (no config) differs in the heartbeat interval and the known tag.
    default = rerun(tmp_path / "data")
    assert default.returncode == 1 and "differences" in default.stdout


def test_what_cannot_be_rerun_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text('[fleet]\nunknown_id_tags = "Maybe"\n')
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "events.db").write_bytes(b"this is not a database, it is a text file" * 100)
    for args in (
        ("--config", str(bad_config)),
        (),  # an unreadable log
    ):
        done = rerun(tmp_path / "data", *args)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("chargeward: "), done.stderr
    missing = rerun(tmp_path / "nowhere")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


@pytest.mark.slow
async def test_a_real_chargers_quirky_session_reruns_with_its_repairs(tmp_path: Path) -> None:
    """The field capture (shared/fixtures) recorded leniently re-runs as recorded, repairs included;
    re-run under ``validation = "strict"`` its quirky frames are refused instead, and say so."""
    frames = [
        json.loads(line)["frame"] for line in CHARGEDOT_SESSION.read_text().splitlines() if line.strip()
    ]
    args = ("--data-dir", str(tmp_path / "data"), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args, until=b"API on") as served:
        port = served.banner.split("ws://127.0.0.1:")[1].split("/")[0]
        tx = None
        async with trio_websocket.open_websocket_url(
            f"ws://127.0.0.1:{port}/ocpp/CHARGEDOT-1", subprotocols=["ocpp1.6"]
        ) as ws:
            for frame in frames:
                text = json.dumps(frame).replace('"$TX"', str(tx))
                await ws.send_message(text)
                with trio.fail_after(20):
                    reply = json.loads(await ws.get_message())
                assert reply[0] == 3, reply
                if frame[2] == "StartTransaction":
                    tx = reply[2]["transactionId"]
        assert await served.stop() == 0

    same = rerun(tmp_path / "data")
    assert same.returncode == 0, same.stdout + same.stderr
    assert f"re-ran {len(frames)} frames of 1 stations: 0 differences" in same.stdout

    strict = tmp_path / "strict.toml"
    strict.write_text('[fleet]\nvalidation = "strict"\n')
    report = json.loads(rerun(tmp_path / "data", "--config", str(strict), "--json").stdout)
    assert report["differences"] > 0
    boot = report["examples"][0]
    assert boot["recorded"]["data"]["repairs"][0]["path"] == "$.ChargeBoxSerialNumber"
    assert boot["rerun"]["data"]["error"] == "FormationViolation"


async def test_timeouts_late_replies_and_refused_frames_rerun_as_recorded(tmp_path: Path) -> None:
    """The paths the operator's session above does not take: a command that times out and its late
    reply, a command answered with an error, frames refused before any decision (not JSON, binary,
    an action 1.6 does not have)."""
    config = make_config(tmp_path, default=StationPolicy(call_timeout=0.5))
    async with (
        open_csms(config) as csms,
        trio_websocket.open_websocket_url(f"{url_of(csms)}/RR-2", subprotocols=["ocpp1.6"]) as ws,
    ):
        station = csms.station("RR-2")
        await ws.send_message('[2,"b1","Heartbeat",{}]')
        await ws.get_message()
        with pytest.raises(CommandTimedOut):
            await station.call(Command("ClearCache", {}))
        late = json.loads(await ws.get_message())
        await ws.send_message(json.dumps([3, late[1], {"status": "Accepted"}]))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_answer_with_error, ws)
            with pytest.raises(CommandRejected):
                await station.call(Command("ClearCache", {}))
        for frame in ("not json", b"\x00binary", '[2,"b2","NoSuchAction",{}]'):
            await ws.send_message(frame)
            assert json.loads(await ws.get_message())[0] == 4
        await ws.send_message('[2,"b3","Heartbeat",{}]')
        await ws.get_message()  # every earlier frame is committed once this is answered
        records = await csms.store.read_stream("station/RR-2")
    assert any(r.type == FrameReceived.TYPE and r.data.get("late") for r in records)
    assert [r.data["outcome"] for r in records if r.type == CommandCompleted.TYPE] == ["timeout", "error"]
    outcome = rerun_station("RR-2", records, config.fleet)
    assert (outcome.frames, outcome.differences) == (7, [])


async def _answer_with_error(ws: trio_websocket.WebSocketConnection) -> None:
    call = json.loads(await ws.get_message())
    await ws.send_message(json.dumps([4, call[1], "NotSupported", "not here", {}]))
