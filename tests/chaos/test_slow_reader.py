"""Chaos: a station stops reading while the API sends it 900 KB DataTransfers at 10/s.

The server's send buffer to it fills. That connection is dropped once a write has been blocked for
``[server] send_timeout``; the other stations are not delayed beyond a generous bound; every command
gets an answer (504 timed out, 429 outbox full, 409 once the station is gone), none hangs and none
is a 500. Found by a black-box probe: before, every command got 504 and the station was never dropped.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from tests.chaos.served import Server, chargeward
from tests.integration.peer import PeerStation, peer_station
from tests.integration.stalled import stalled_station

TOML = """
[server]
send_timeout = 2

[fleet]
call_timeout = 5
outbox_capacity = 4
"""
BIG = {"vendorId": "X", "data": "a" * 900_000}


async def command(server: Server, answers: list[int]) -> None:
    with trio.fail_after(90):  # a hung command fails the test here
        reply = await server.api.post("/api/stations/STUCK/commands/DataTransfer", json=BIG)
    answers.append(reply.status_code)


async def heartbeats(peer: PeerStation, until: trio.Event, slowest: list[float]) -> None:
    while not until.is_set():
        started = trio.current_time()
        await peer.call("Heartbeat")
        slowest[0] = max(slowest[0], trio.current_time() - started)
        await trio.sleep(0.2)


async def dropped(api: httpx.AsyncClient) -> bool:
    station = await api.get("/api/stations/STUCK")
    return station.status_code == 200 and not station.json()["connected"]


@pytest.mark.slow
async def test_a_slow_reader_is_dropped_and_nobody_else_waits(tmp_path: Path) -> None:
    async with chargeward(tmp_path, TOML) as server:
        async with (
            peer_station(server.ocpp_url, "OTHER-1") as first,
            peer_station(server.ocpp_url, "OTHER-2") as second,
            stalled_station(server.ocpp_port, "STUCK"),
        ):
            answers: list[int] = []
            slowest = [0.0]
            flood_over = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(heartbeats, first, flood_over, slowest)
                nursery.start_soon(heartbeats, second, flood_over, slowest)
                async with trio.open_nursery() as flood:
                    for _ in range(60):  # 10/s for 6 s
                        flood.start_soon(command, server, answers)
                        await trio.sleep(0.1)
                    with trio.fail_after(60):
                        while True:  # polls the API, as an operator would
                            if await dropped(server.api):
                                break
                            await trio.sleep(0.5)
                flood_over.set()
            assert await dropped(server.api), "the slow reader's connection was dropped"
            assert slowest[0] < 15, f"another station waited {slowest[0]:.1f} s for a heartbeat"
            assert len(answers) == 60 and set(answers) <= {409, 429, 504}, sorted(answers)
            assert 429 in answers, "the outbox bound answers 429 rather than queueing without end"
            for peer in (first, second):
                assert (await peer.call("Heartbeat"))["current_time"], "the others are still connected"
        events = (await server.api.get("/api/stations/STUCK/events?limit=500")).json()["events"]
        reasons = [e["data"]["reason"] for e in events if e["type"] == "StationDisconnected"]
        assert reasons and "send blocked" in reasons[0], reasons
        assert server.served.process.returncode is None, "the server is still up"
