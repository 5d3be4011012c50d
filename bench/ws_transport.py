"""The simulated stations' WebSocket client: trio driving the `websockets` sans-I/O protocol.

Why this stack: the load generator shares two cores with the server under test, so every microsecond
a simulated station spends is taken from the server. One echo costs nearly twice as much through
trio-websocket (wsproto, a background reader task and channels per connection) as with trio
feeding `websockets.client.ClientProtocol` directly (figures in bench/results/README.md). This
driver also has no background task: the station's single task reads when it waits, so 10,000
stations are 10,000 tasks and sockets, no more.

`Transport` is the small interface the station needs; `WsTransport` is the one real implementation.
It speaks ``wss://`` too (a ``trio.SSLStream`` under the same protocol) with HTTP Basic credentials,
so the bench can drive a CSMS at security profile 2.
"""

from __future__ import annotations

import base64
import ssl
from typing import Protocol

import trio
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

READ_SIZE = 65536


def basic_authorization(user: str, password: str) -> str:
    """An HTTP Basic Authorization header value (OCPP security profiles 1 and 2: user = station id)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TransportClosed(Exception):
    """The peer closed the connection or the handshake failed."""


class Transport(Protocol):
    """What a simulated station needs from its connection: text frames in and out, reads with a deadline."""

    async def send(self, text: str) -> None: ...

    async def receive(self, deadline: float) -> str | None:
        """The next text message, or None when ``deadline`` (trio time) passes first."""
        ...

    async def aclose(self) -> None: ...


class WsTransport:
    """One client WebSocket over a trio TCP stream; not safe for concurrent use by two tasks."""

    def __init__(self, stream: trio.abc.Stream, protocol: ClientProtocol) -> None:
        self._stream = stream
        self._protocol = protocol
        self._inbox: list[str] = []
        self._fragments: list[bytes] = []

    @classmethod
    async def connect(
        cls,
        url: str,
        subprotocol: str,
        within: float,
        *,
        ssl_context: ssl.SSLContext | None = None,
        authorization: str | None = None,
    ) -> WsTransport:
        """Open TCP (TLS for ``wss://``, verified with ``ssl_context``), do the opening handshake with
        ``authorization`` as its Authorization header, insist on ``subprotocol``; TransportClosed on
        failure."""
        uri = parse_uri(url)
        protocol = ClientProtocol(uri, subprotocols=[Subprotocol(subprotocol)])
        with trio.fail_after(within):
            stream: trio.abc.Stream = await trio.open_tcp_stream(uri.host, uri.port)
            if uri.secure:
                context = ssl_context or ssl.create_default_context()
                stream = trio.SSLStream(stream, context, server_hostname=uri.host)
            transport = cls(stream, protocol)
            try:
                request = protocol.connect()
                if authorization is not None:
                    request.headers["Authorization"] = authorization
                protocol.send_request(request)
                await transport._flush()
                while True:
                    data = await stream.receive_some(READ_SIZE)
                    if not data:
                        protocol.receive_eof()
                    else:
                        protocol.receive_data(data)
                    for event in protocol.events_received():
                        if isinstance(event, Response):
                            if protocol.handshake_exc is not None:
                                raise TransportClosed(f"handshake failed: {protocol.handshake_exc}")
                            if protocol.subprotocol != subprotocol:
                                raise TransportClosed(f"server chose subprotocol {protocol.subprotocol!r}")
                            return transport
                        if isinstance(event, Frame):
                            transport._take(event)
                    if not data:
                        raise TransportClosed("connection closed during handshake")
            except BaseException:
                await stream.aclose()
                raise

    async def _flush(self) -> None:
        for chunk in self._protocol.data_to_send():
            if chunk:
                await self._stream.send_all(chunk)

    def _take(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                self._inbox.append(b"".join(self._fragments).decode())
                self._fragments.clear()

    async def send(self, text: str) -> None:
        self._protocol.send_text(text.encode())
        await self._flush()

    async def receive(self, deadline: float) -> str | None:
        while not self._inbox:
            with trio.move_on_at(deadline) as scope:
                data = await self._stream.receive_some(READ_SIZE)
            if scope.cancelled_caught:
                return None
            if data:
                self._protocol.receive_data(data)
            else:
                self._protocol.receive_eof()
            for event in self._protocol.events_received():
                if isinstance(event, Frame):
                    self._take(event)
            await self._flush()  # pongs and close replies
            if not self._inbox and (not data or self._protocol.state is not State.OPEN):
                raise TransportClosed(f"closed by peer (code {self._protocol.close_code})")
        return self._inbox.pop(0)

    async def aclose(self) -> None:
        try:
            if self._protocol.state is State.OPEN:
                self._protocol.send_close()
                await self._flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            await self._stream.aclose()
