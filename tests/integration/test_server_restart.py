"""Defect 4: after a server restart, stations that were connected show disconnected at once.

The real ``chargeward serve`` process, a real station (the ``ocpp`` package's ChargePoint): the
station connects and boots, the server is killed (-9, so nothing is closed cleanly), the station
goes away, and the server starts again on the same data. Before the fix the station showed
``connected: true`` until it came back, which it never does here.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import trio

from tests.integration.peer import peer_station
from tests.integration.serving import serving

STATION = "CP-GONE"


def ocpp_url(banner: str) -> str:
    found = re.search(r"OCPP on (ws://127\.0\.0\.1:\d+/ocpp)/", banner)
    assert found is not None, banner
    return found.group(1)


async def test_stations_connected_at_a_crash_show_disconnected_after_the_restart(tmp_path: Path) -> None:
    args = ("--data-dir", str(tmp_path), "--ocpp-port", "0", "--api-port", "0")
    async with (
        serving(*args, until=b"(docs at /docs)") as first,
        peer_station(ocpp_url(first.banner), STATION) as station,
    ):
        await station.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
        async with httpx.AsyncClient(base_url=first.api_url) as client:
            view = (await client.get(f"/api/stations/{STATION}")).json()
            assert view["connected"] is True
        first.process.kill()  # while the station is connected
        with trio.fail_after(20):
            await first.process.wait()
    async with (
        serving(*args, until=b"(docs at /docs)") as second,
        httpx.AsyncClient(base_url=second.api_url) as client,
    ):
        # The first answer the API gives, before the station could have reconnected (it is gone).
        view = (await client.get(f"/api/stations/{STATION}")).json()
        assert view["connected"] is False
        events = (await client.get(f"/api/stations/{STATION}/events", params={"limit": 500})).json()["events"]
        last = events[-1]
        assert last["type"] == "StationDisconnected", [e["type"] for e in events]
        assert last["data"]["reason"] == "server restarted"
        assert last["data"]["conn"] == view["connection"] == 1
