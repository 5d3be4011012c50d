"""Let it crash: a station actor that fails is restarted, rebuilds from its stream and drops the
connection it inherited, so the station reconnects into a known state."""

from __future__ import annotations

import json

import trio
import trio_websocket

from actors import event_types as ev
from adapters.csms import Csms
from core.events import NewEvent
from tests.integration.conftest import url_of


async def test_a_crashed_station_actor_restarts_from_its_stream(csms: Csms) -> None:
    url = f"{url_of(csms)}/CRASH-1"
    async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as ws:
        await ws.send_message(
            '[2,"1","StartTransaction",{"connectorId":1,"idTag":"TAG-OK","meterStart":0,"timestamp":"2026-11-21T10:00:00Z"}]'
        )
        tx = json.loads(await ws.get_message())[2]["transactionId"]
        # Another writer moves the stream on: the actor's next append is a version conflict and it crashes.
        version = await csms.store.stream_version("station/CRASH-1")
        await csms.store.append(
            [NewEvent("station/CRASH-1", "OperatorNote", {"text": "out-of-band"}, csms.runtime.clock.wall())],
            expected={"station/CRASH-1": version},
        )
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
    stop = next(r.data for r in records if r.type == ev.TRANSACTION_STOPPED)
    assert stop["known"] is True, "the rebuilt actor still knew the open transaction"
    reasons = [r.data["reason"] for r in records if r.type == ev.STATION_DISCONNECTED]
    assert "station actor restarted" in reasons
