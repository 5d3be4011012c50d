"""A lone surrogate in a station's JSON (``"\\ud800"`` is valid JSON) is stored losslessly, the station kept.

Before: msgpack refused to encode the DataTransfer event, the station actor crashed and the station
was dropped, every time. Now the log keeps the text exactly; the API's JSON, the CLI's event lines
and the metric labels write it out escaped instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
import trio
import trio_websocket

from actors.events.station import DataTransferred
from adapters.api import ApiOptions
from adapters.csms import open_csms
from adapters.event_json import record_json
from tests.integration.conftest import make_config, url_of
from tests.integration.peer import peer_station

ODD = "x\ud800y\udfff"


async def test_a_lone_surrogate_is_stored_losslessly_and_the_station_is_kept(tmp_path: Path) -> None:
    config = replace(make_config(tmp_path), api=ApiOptions(host="127.0.0.1", port=0))
    async with open_csms(config) as csms, peer_station(url_of(csms), "SURR-1") as peer:
        await peer.call(
            "BootNotification", charge_point_vendor="V\udc80", charge_point_model="M", firmware_version=ODD
        )
        reply = await peer.call("DataTransfer", vendor_id="\ud800", message_id=ODD, data=ODD)
        assert reply["status"] in ("Accepted", "UnknownVendorId", "Rejected", "UnknownMessageId")
        assert (await peer.call("Heartbeat"))["current_time"], "the same connection still works"
        assert csms.runtime.stats.restarts["station"] == 0

        records = await csms.store.read_stream("station/SURR-1")
        [transfer] = [r for r in records if r.type == DataTransferred.TYPE]
        assert transfer.data["vendor_id"] == "\ud800" and transfer.data["data"] == ODD, "lossless"
        assert json.loads(record_json(transfer))["data"]["vendor_id"] == "\ud800"

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}", timeout=20) as api:
            events = await api.get("/api/stations/SURR-1/events?limit=500")
            assert events.status_code == 200, events.text
            sent = [e for e in events.json()["events"] if e["type"] == DataTransferred.TYPE]
            assert sent[0]["data"]["data"] == ODD, "the API's JSON escapes the surrogate, losslessly"
            station = await api.get("/api/stations/SURR-1")
            assert station.status_code == 200, station.text
            second = f"{url_of(csms)}/SURR-2"
            async with trio_websocket.open_websocket_url(second, subprotocols=["ocpp1.6"]) as ws:
                # a key in the wrong case is repaired in lenient mode: a repair counted under this vendor
                payload = {
                    "chargePointVendor": "V\udc80",
                    "chargePointModel": "M",
                    "ChargeBoxSerialNumber": "S",
                }
                await ws.send_message(json.dumps([2, "b", "BootNotification", payload]))
                with trio.fail_after(20):
                    assert json.loads(await ws.get_message())[0] == 3
            metrics = await api.get("/metrics")
            assert metrics.status_code == 200, metrics.text
            assert 'vendor="V\\\\udc80"' in metrics.text, "the label shows the surrogate escaped"
