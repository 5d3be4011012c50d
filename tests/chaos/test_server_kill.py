"""Chaos: ``kill -9`` of the real server under load from 100 stations, then a restart on its log.

The durability rule says a CALLRESULT goes out only after its events are committed, so whatever
moment the kill hits, every acknowledged message is in the log; the restarted server rebuilds every
station from it, tells the truth about who is connected (nobody, until they come back) and serves
again. The store-level kill test (tests/core/test_store_conformance.py) checks the SQLite file; this
one checks the whole path a station's message takes.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import trio

from tests.chaos.fleet_load import Fleet, start_fleet, unlogged
from tests.chaos.served import chargeward

STATIONS = 100
PERIOD = 0.2  # seconds between one station's messages: ~500 messages/s offered


@pytest.mark.slow
async def test_a_kill_9_under_load_loses_no_acknowledged_message(tmp_path: Path) -> None:
    fleet = Fleet(STATIONS)
    async with chargeward(tmp_path) as server:
        with trio.fail_after(300):
            async with trio.open_nursery() as nursery:
                await start_fleet(nursery, server.ocpp_url, "K9", fleet, PERIOD)
                await trio.sleep(3)
                server.served.process.kill()  # SIGKILL, mid-load: no shutdown of any kind
                await server.served.process.wait()
        assert server.served.process.returncode == -signal.SIGKILL
    assert fleet.acks > STATIONS, f"the load never got going: {fleet.acks} acknowledgements"
    missing = await unlogged(tmp_path, fleet)
    assert not missing, f"{len(missing)} acknowledged messages are not in the log: {missing[:5]}"

    after = Fleet(1)
    async with chargeward(tmp_path) as server:
        listed = (await server.api.get("/api/stations", params={"limit": 200})).json()["stations"]
        ids = {entry["station_id"]: entry for entry in listed}
        assert {f"K9-{i:03d}" for i in range(STATIONS)} <= set(ids), "every station rebuilt from the log"
        assert not any(ids[f"K9-{i:03d}"]["connected"] for i in range(STATIONS))
        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                await start_fleet(nursery, server.ocpp_url, "K9", after, PERIOD)  # K9-000 again
                await trio.sleep(10 * PERIOD)
                after.stop.set()
        await server.served.stop()
    assert after.acks >= 3, f"the restarted server answered {after.acks} messages"
    assert after.closed == [], "the restarted server kept the station"
    assert not await unlogged(tmp_path, after), "the restarted server's acknowledgements are in the log"
