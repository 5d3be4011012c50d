"""A station that crashes its actor every time stops alone; the fleet goes on serving the others.

The crashing station's actor raises on every Heartbeat (``tests.station_faults``, injected through
``open_csms(station_actor=...)``). Its own supervisor restarts it, with backoff, until its intensity
is exceeded; then only that station stops: ``StationFailed`` is appended, its connection is closed
with code 1013, a reconnect is refused with HTTP 503 until ``retry_after`` has passed, and a real
station (the ``ocpp`` package's ChargePoint) connected alongside is served throughout.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from actors.events.station import StationDisconnected, StationFailed
from adapters.api import ApiOptions
from adapters.csms import Csms, open_csms
from tests.integration.conftest import live, make_config, url_of
from tests.integration.peer import peer_station
from tests.station_faults import crashes_on

CRASHING = "CP-CRASH"


async def heartbeat_until_closed(csms: Csms, station_id: str) -> int:
    """Connect, send a Heartbeat and wait for the server to close: the close code."""
    async with trio_websocket.open_websocket_url(
        f"{url_of(csms)}/{station_id}", subprotocols=["ocpp1.6"]
    ) as ws:
        await ws.send_message(json.dumps([2, "hb", "Heartbeat", {}]))
        with trio.fail_after(30):
            while True:
                try:
                    await ws.get_message()
                except trio_websocket.ConnectionClosed as closed:
                    return closed.reason.code


async def crash_until_refused(csms: Csms, station_id: str) -> list[int]:
    """Crash the station's actor by reconnecting with a Heartbeat until the upgrade is refused."""
    codes: list[int] = []
    with trio.fail_after(120):
        while True:
            try:
                codes.append(await heartbeat_until_closed(csms, station_id))
            except trio_websocket.ConnectionRejected as rejected:
                assert rejected.status_code == 503
                return codes


@pytest.mark.slow
async def test_a_crash_looping_station_stops_alone_and_is_refused_until_retry_after(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path,
        station_intensity=2,
        station_period=60.0,
        station_backoff=0.05,
        station_backoff_max=0.2,
        station_retry_after=3.0,
        station_retry_max=6.0,
    )
    config = replace(config, api=ApiOptions(host="127.0.0.1", port=0))
    async with (
        open_csms(config, station_actor=crashes_on(CRASHING, "Heartbeat")) as csms,
        peer_station(url_of(csms), "CP-OK") as healthy,
    ):
        await healthy.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
        codes = await crash_until_refused(csms, CRASHING)
        # Closed by each restart (1000) and, the last time, by the failure itself (1013).
        assert codes[-1] == 1013, codes
        assert len(codes) == 3, "intensity 2: the third crash stops the station"

        records = await csms.store.read_stream(f"station/{CRASHING}")
        failed = [r for r in records if r.type == StationFailed.TYPE]
        assert len(failed) == 1
        assert failed[0].data["restarts"] == 3
        assert failed[0].data["retry_after"] == 3.0
        assert "InjectedFault" in failed[0].data["reason"]
        assert records[-1].type == StationFailed.TYPE
        assert records[-2].type == StationDisconnected.TYPE

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}") as client:
            shown = (await client.get(f"/api/stations/{CRASHING}")).json()
        assert shown["connected"] is False
        assert shown["failed"]["retry_after"] == 3.0 and shown["failed"]["restarts"] == 3
        state = await live(csms)
        view = state.stations[CRASHING]
        assert view.connected is False and view.failed is not None
        assert view.failed["retry_after"] == 3.0
        assert csms.fleet.stats.station_failures == 1
        assert CRASHING not in csms.fleet.stations()

        # The other station was served all along, and still is.
        assert "current_time" in await healthy.call("Heartbeat")
        assert state.stations["CP-OK"].connected

        # After retry_after the station may connect again; its next failure doubles the wait.
        left = csms.fleet.refused_for(CRASHING)
        assert left is not None
        await trio.sleep(left + 0.1)
        assert csms.fleet.refused_for(CRASHING) is None
        await crash_until_refused(csms, CRASHING)
        records = await csms.store.read_stream(f"station/{CRASHING}")
        assert [r.data["retry_after"] for r in records if r.type == StationFailed.TYPE] == [3.0, 6.0]
        assert "current_time" in await healthy.call("Heartbeat")
    assert csms.runtime.stats.escalations["station"] == 2
    assert "stations" not in csms.runtime.stats.escalations
