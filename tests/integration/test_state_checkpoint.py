"""``chargeward serve`` killed with SIGKILL between two checkpoints resumes from the last one, folds
the tail, and shows what a cold refold of the same log shows; the transaction index written through
the kill lists what ``chargeward replay`` folds from position 0."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

import trio

from adapters.csms import LIVE_CHECKPOINT
from tests.chaos.served import Server, chargeward
from tests.integration.peer import peer_station
from tests.integration.serving import ROOT

TOML = '[state]\ncheckpoint_every = 10\ncheckpoint_interval = 3600\n[fleet]\nunknown_id_tags = "Accepted"\n'
NOW = "2026-11-27T05:00:00Z"


async def gauge(server: Server, name: str) -> float:
    text = (await server.api.get("/metrics")).text
    found = re.search(rf'^{name}(?:\{{projection="live"\}})? (\S+)$', text, re.M)
    assert found is not None, name
    return float(found.group(1))


async def reads(server: Server) -> dict[str, Any]:
    """What an operator sees of the station and its transactions (reads wait for the state to catch up)."""
    station = (await server.api.get("/api/stations/CK-1")).json()
    transactions = (await server.api.get("/api/transactions")).json()
    one = (
        await server.api.get(f"/api/transactions/{transactions['transactions'][0]['transaction_id']}")
    ).json()
    return {"station": station, "transactions": transactions, "first": one}


async def test_a_killed_server_resumes_from_its_checkpoint_and_shows_a_cold_refolds_state(
    tmp_path: Path,
) -> None:
    async with chargeward(tmp_path, TOML) as server, peer_station(server.ocpp_url, "CK-1") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        first = await peer.call("StartTransaction", connector_id=1, id_tag="T1", meter_start=0, timestamp=NOW)
        await peer.call(
            "MeterValues",
            connector_id=1,
            transaction_id=first["transaction_id"],
            meter_value=[{"timestamp": NOW, "sampledValue": [{"value": "1500", "unit": "Wh"}]}],
        )
        await peer.call(
            "StopTransaction", transaction_id=first["transaction_id"], meter_stop=2000, timestamp=NOW
        )
        await peer.call("StartTransaction", connector_id=2, id_tag="T2", meter_start=10, timestamp=NOW)
        with trio.fail_after(60):  # records after the last checkpoint: the kill loses its state
            while (
                not 0
                < await gauge(server, "chargeward_projection_checkpoint_position")
                < await gauge(server, "chargeward_store_head_position")
            ):
                await peer.call("Heartbeat")
        saved = await gauge(server, "chargeward_projection_checkpoint_position")
        server.served.process.kill()
        await server.served.process.wait()

    async with chargeward(tmp_path, TOML) as server:
        assert await gauge(server, "chargeward_projection_checkpoint_position") == saved  # resumed from it
        warm = await reads(server)
        assert await server.served.stop() == 0

    with sqlite3.connect(tmp_path / "events.db") as db:  # no checkpoint: the next start folds from 0
        db.execute("DELETE FROM chargeward_snapshots WHERE key=?", (LIVE_CHECKPOINT,))
    async with chargeward(tmp_path, TOML.replace("= 10\n", "= 1000\n")) as server:
        assert await gauge(server, "chargeward_projection_checkpoint_position") == 0  # none saved yet
        cold = await reads(server)
        await server.served.stop()

    assert warm == cold
    replay = [sys.executable, "-m", "adapters.cli", "replay", "--data-dir", str(tmp_path), "--json"]
    replayed = await trio.run_process(replay, cwd=ROOT, capture_stdout=True, capture_stderr=True)
    # The index, written through a kill, lists what a fold from 0 holds.
    assert warm["transactions"]["transactions"] == json.loads(replayed.stdout)["transactions"]
    assert warm["station"]["connected"] is False  # the sweep at the second start closed the connection
    assert [tx["active"] for tx in warm["transactions"]["transactions"]] == [False, True]
