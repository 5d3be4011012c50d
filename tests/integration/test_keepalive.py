"""WebSocket keepalive: the server pings a quiet station; one that never pongs is dropped.

The dropping test fails if the server never pings (checked by disabling the ping in
adapters/websocket.py: the station is then never dropped) or drops without a ping first.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from pathlib import Path

import trio
import trio_websocket

from actors.events.station import StationDisconnected
from adapters.config import Config
from adapters.csms import open_csms
from tests.integration.conftest import disconnected, make_config


def quick_pings(tmp_path: Path) -> Config:
    config = make_config(tmp_path)
    return replace(config, server=replace(config.server, ping_interval=0.2, ping_timeout=0.3))


async def test_a_station_that_answers_pings_stays_connected(tmp_path: Path) -> None:
    async with (
        open_csms(quick_pings(tmp_path)) as csms,
        trio_websocket.open_websocket_url(
            f"ws://127.0.0.1:{csms.ocpp_port}/ocpp/PINGED", subprotocols=["ocpp1.6"]
        ) as ws,
    ):
        await trio.sleep(1.5)  # several ping rounds, each answered by the client library
        await ws.send_message('[2,"1","Heartbeat",{}]')
        assert json.loads(await ws.get_message())[0] == 3


async def test_a_station_that_never_pongs_is_dropped(tmp_path: Path) -> None:
    async with open_csms(quick_pings(tmp_path)) as csms:
        assert csms.ocpp_port is not None
        stream = await trio.open_tcp_stream("127.0.0.1", csms.ocpp_port)
        key = base64.b64encode(os.urandom(16)).decode()
        await stream.send_all(
            (
                "GET /ocpp/MUTE HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
            ).encode()
        )
        with trio.fail_after(5):
            received = b""
            while True:  # the 101, then a ping we ignore, then the server gives up and closes
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                received += chunk
        assert received.startswith(b"HTTP/1.1 101")
        frames = received.partition(b"\r\n\r\n")[2]
        assert frames[:1] == b"\x89", f"the server pings before it gives up, got {frames[:8]!r}"
        state = await disconnected(csms, "MUTE")
        assert state.stations["MUTE"].connected is False
        records = await csms.store.read_stream("station/MUTE")
        reasons = [r.data["reason"] for r in records if r.type == StationDisconnected.TYPE]
        assert reasons == ["closed (1011 keepalive timeout)"]
        await stream.aclose()
