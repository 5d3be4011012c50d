"""Let it crash: a station actor that fails is restarted, rebuilds from its stream and drops the
connection it inherited, so the station reconnects into a known state."""

from __future__ import annotations

import json
from pathlib import Path

import trio
import trio_websocket

from actors.events.station import StationDisconnected, TransactionStopped
from adapters.csms import Csms, open_csms
from tests.integration.conftest import make_config, url_of
from tests.station_faults import crashes_on


async def test_a_crashed_station_actor_restarts_from_its_stream(tmp_path: Path) -> None:
    # The station actor has a bug on Heartbeat (a failed commit no longer crashes it: it answers
    # InternalError and keeps the station, see tests/actors/test_station_store_failures.py).
    async with open_csms(make_config(tmp_path), station_actor=crashes_on("CRASH-1", "Heartbeat")) as csms:
        await _crash_and_reconnect(csms)


async def _crash_and_reconnect(csms: Csms) -> None:
    url = f"{url_of(csms)}/CRASH-1"
    async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as ws:
        await ws.send_message(
            '[2,"1","StartTransaction",{"connectorId":1,"idTag":"TAG-OK","meterStart":0,"timestamp":"2026-11-21T10:00:00Z"}]'
        )
        tx = json.loads(await ws.get_message())[2]["transactionId"]
        await ws.send_message('[2,"2","Heartbeat",{}]')
        with trio.fail_after(10):
            try:
                while True:
                    await ws.get_message()
            except trio_websocket.ConnectionClosed as closed:
                assert closed.reason is not None and "restarted" in (closed.reason.reason or "")
    assert csms.runtime.stats.restarts["station"] == 1
    async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as ws:
        await ws.send_message(
            json.dumps(
                [
                    2,
                    "3",
                    "StopTransaction",
                    {"transactionId": tx, "meterStop": 10, "timestamp": "2026-11-21T11:00:00Z"},
                ]
            )
        )
        assert json.loads(await ws.get_message())[0] == 3
    records = await csms.store.read_stream("station/CRASH-1")
    stop = next(r.data for r in records if r.type == TransactionStopped.TYPE)
    assert stop["known"] is True, "the rebuilt actor still knew the open transaction"
    reasons = [r.data["reason"] for r in records if r.type == StationDisconnected.TYPE]
    assert "station actor restarted" in reasons
