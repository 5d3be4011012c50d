"""A station that stops reading costs its own connection only, and the keepalive still works.

Before: a write to a station whose TCP window was full blocked forever. The station actor waited in
it (every command to that station timed out), and the connection's own task waited behind it for
the send lock to ping, so the keepalive never dropped the connection either.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from actors.commands import Command, CommandError
from actors.events.station import StationDisconnected
from adapters.config import Config
from adapters.csms import Csms, open_csms
from core.actor import ActorBusy
from tests.integration.conftest import disconnected, make_config, url_of
from tests.integration.peer import peer_station
from tests.integration.stalled import stalled_station

BIG = Command("DataTransfer", {"vendorId": "X", "data": "a" * 900_000})


def config(tmp_path: Path, **server: float) -> Config:
    base = make_config(tmp_path)
    return replace(base, server=replace(base.server, **server))


async def push_big_frames(csms: Csms, station_id: str) -> None:
    """Send 900 KB DataTransfers until the station is gone; each one ends, none hangs."""
    while True:
        try:
            await csms.station(station_id).call(BIG, timeout=120)
        except (CommandError, ActorBusy):
            return


async def test_a_blocked_send_times_out_and_drops_only_that_connection(tmp_path: Path) -> None:
    async with open_csms(config(tmp_path, send_timeout=1.0)) as csms:
        assert csms.ocpp_port is not None
        async with peer_station(url_of(csms), "LIVELY") as lively, stalled_station(csms.ocpp_port, "STUCK"):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(push_big_frames, csms, "STUCK")
                slowest = 0.0
                with trio.fail_after(60):
                    while still_connected(csms, "STUCK"):
                        started = trio.current_time()
                        await lively.call("Heartbeat")
                        slowest = max(slowest, trio.current_time() - started)
                        await trio.sleep(0.1)
            state = await disconnected(csms, "STUCK")
            assert state.stations["LIVELY"].connected
            assert slowest < 10, f"the other station waited {slowest:.1f} s for a heartbeat"
        records = await csms.store.read_stream("station/STUCK")
        [gone] = [r for r in records if r.type == StationDisconnected.TYPE]
        assert "send blocked" in gone.data["reason"], gone.data


async def test_the_keepalive_drops_a_connection_whose_send_is_blocked(tmp_path: Path) -> None:
    blocked = config(tmp_path, send_timeout=600.0, ping_interval=1.0, ping_timeout=1.0)
    async with open_csms(blocked) as csms:
        assert csms.ocpp_port is not None
        async with stalled_station(csms.ocpp_port, "STUCK"), trio.open_nursery() as nursery:
            nursery.start_soon(push_big_frames, csms, "STUCK")
            state = await disconnected_within(csms, "STUCK", 60)
            nursery.cancel_scope.cancel()
        assert not state.stations["STUCK"].connected
        records = await csms.store.read_stream("station/STUCK")
        [gone] = [r for r in records if r.type == StationDisconnected.TYPE]
        assert "keepalive" in gone.data["reason"], gone.data


def still_connected(csms: Csms, station_id: str) -> bool:
    station = csms.live.state.stations.get(station_id)
    return station is None or bool(station.connected)


async def disconnected_within(csms: Csms, station_id: str, seconds: float) -> Any:
    with trio.fail_after(seconds):
        while True:
            station = csms.live.state.stations.get(station_id)
            if station is not None and not station.connected:
                return csms.live.state
            await csms.live.wait_for(csms.live.position + 1)
