"""A station that boots and then stops reading: the server's writes to it block once TCP is full.

Built on the ``websockets`` sans-I/O client over a raw trio socket with a small receive buffer, so
nothing reads behind the test's back (every WebSocket client library reads in a background task).
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

BOOT = '[2,"boot","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


@asynccontextmanager
async def stalled_station(port: int, station_id: str) -> AsyncIterator[trio.SocketStream]:
    """Connect ``station_id``, boot, read the answer, then never read again; closed on exit."""
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    await sock.connect(("127.0.0.1", port))
    stream = trio.SocketStream(sock)
    protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ocpp/{station_id}"), subprotocols=["ocpp1.6"])
    try:
        protocol.send_request(protocol.connect())
        await stream.send_all(b"".join(protocol.data_to_send()))
        booted = False
        with trio.fail_after(30):
            while not booted:
                data = await stream.receive_some(65536)
                assert data, "the server closed before the boot was answered"
                protocol.receive_data(data)
                for event in protocol.events_received():
                    if isinstance(event, Response):
                        assert event.status_code == 101, event
                        protocol.send_text(BOOT.encode())
                        await stream.send_all(b"".join(protocol.data_to_send()))
                    elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                        booted = json.loads(event.data)[1] == "boot"
        yield stream
    finally:
        await trio.aclose_forcefully(stream)
