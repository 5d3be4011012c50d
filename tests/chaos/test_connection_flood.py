"""Chaos: a flood of connections from one address while an existing station keeps working.

Half the flood opens TCP and says nothing (the handshake timeout closes those), half completes the
WebSocket upgrade as stations FLOOD-n and then idles; all of them at once, then all dropped at once.
The server stays up, keeps answering the station that was there before, and accepts a new station
afterwards. Limiting connections per address is the security issue's job, not tested here: this
checks that a flood costs the flooder, not the server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio_websocket

from tests.chaos.served import chargeward
from tests.integration.peer import peer_station

FLOOD = 300


async def silent(port: int, streams: list[trio.SocketStream]) -> None:
    streams.append(await trio.open_tcp_stream("127.0.0.1", port))


async def upgraded(
    url: str, n: int, sockets: list[trio_websocket.WebSocketConnection], done: trio.Event
) -> None:
    async with trio_websocket.open_websocket_url(f"{url}/FLOOD-{n}", subprotocols=["ocpp1.6"]) as ws:
        sockets.append(ws)
        await done.wait()


@pytest.mark.slow
async def test_a_connection_flood_leaves_the_server_serving(tmp_path: Path) -> None:
    async with chargeward(tmp_path) as server, peer_station(server.ocpp_url, "EXISTING") as existing:
        streams: list[trio.SocketStream] = []
        sockets: list[trio_websocket.WebSocketConnection] = []
        release = trio.Event()
        slowest = 0.0
        async with trio.open_nursery() as nursery:
            for n in range(FLOOD):
                if n % 2:
                    nursery.start_soon(silent, server.ocpp_port, streams)
                else:
                    nursery.start_soon(upgraded, server.ocpp_url, n, sockets, release)
            with trio.fail_after(120):
                while len(streams) + len(sockets) < FLOOD:
                    started = trio.current_time()
                    await existing.call("Heartbeat")
                    slowest = max(slowest, trio.current_time() - started)
                    await trio.sleep(0.1)
            for _ in range(5):  # with the whole flood open
                started = trio.current_time()
                await existing.call("Heartbeat")
                slowest = max(slowest, trio.current_time() - started)
            release.set()
            for stream in streams:
                await trio.aclose_forcefully(stream)
        assert slowest < 15, f"the existing station waited {slowest:.1f} s for a heartbeat"
        async with peer_station(server.ocpp_url, "AFTER") as after:
            assert (await after.call("Heartbeat"))["current_time"], "a new station is accepted after"
        assert (await existing.call("Heartbeat"))["current_time"]
        stations = (await server.api.get("/api/stations?limit=200")).json()["stations"]
        assert {s["station_id"] for s in stations} >= {"EXISTING", "AFTER"}
        assert server.served.process.returncode is None, "the server is still up"
