"""A WebSocket server transport: trio driving the ``websockets`` sans-I/O protocol.

Why not trio-websocket: under load its per-connection reader task, channels and wsproto were a
large share of the server's busy time (bench/results/README.md), and each connection needed three
tasks (reader, handler, keepalive). Here one task per connection does everything: it reads, feeds
the protocol, answers pings and, when it has waited ``ping_interval`` for data, pings the station
itself; the receive deadline is the keepalive timer. Writes may come from another task (the
station actor), so they take a lock; reads happen only in the connection's own task.

A peer that stops reading must cost one connection, never the server. A write blocked for
``send_timeout`` drops the connection (the writer gets :class:`ConnectionClosed`; other connections
never wait on it). The connection's own task never waits for the lock: a ping, pong or close frame
queued while a write is in progress is sent by the writer after its data, so the reader keeps
reading and the keepalive deadline still fires (and drops the connection) while a write is blocked.

The surface is what the OCPP server needs and no more: :func:`serve` calls a handler with an
:class:`Upgrade` (path, offered subprotocols, remote address, Authorization header, the verified
client certificate) that it accepts or rejects, and a
:class:`Connection` to ``receive``, ``send`` and ``aclose`` text messages.
"""

from __future__ import annotations

import logging
import math
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import trio
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

logger = logging.getLogger("chargeward.websocket")

READ_SIZE = 65536
# websockets logs every opened connection at INFO; with thousands of stations that is noise.
_PROTOCOL_LOG = logging.getLogger("chargeward.websocket.protocol")
_PROTOCOL_LOG.setLevel(logging.WARNING)
CLOSE_TIMEOUT = 5.0  # seconds to wait for the peer's close frame after ours


class ConnectionClosed(Exception):
    """The connection is closed: ``code`` and ``reason`` from the close handshake (1006 if none)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}".strip())
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Options:
    max_message_bytes: int = 64 * 1024
    handshake_timeout: float = 10.0
    ping_interval: float | None = 30.0
    ping_timeout: float = 15.0
    send_timeout: float | None = 10.0  # a write blocked this long drops the connection; None: never
    ssl_context: ssl.SSLContext | None = None


class Connection:
    """One open WebSocket. ``receive`` from the connection's task only; ``send`` from any task."""

    def __init__(
        self, stream: trio.abc.Stream, protocol: ServerProtocol, remote: str, options: Options
    ) -> None:
        self.stream = stream
        self.protocol = protocol
        self.remote = remote
        self.subprotocol = protocol.subprotocol or ""
        self._options = options
        self._send_lock = trio.Lock()
        self._messages: list[str | bytes] = []
        self._fragments: list[bytes] = []
        self._fragments_binary = False
        self._ping_due = trio.current_time() + (options.ping_interval or math.inf)
        self._pong_due = math.inf
        self._close_due = math.inf
        self._dropped: str | None = None  # why this side dropped the connection, once it has

    async def _flush(self) -> None:
        """Send everything queued, including frames queued while sending; drop the connection if stuck."""
        async with self._send_lock:
            chunks = self.protocol.data_to_send()
            if not chunks:
                return  # the common case after a received frame: no deadline to set up and cancel
            with trio.move_on_after(self._options.send_timeout or math.inf) as stuck:
                while chunks:
                    for chunk in chunks:
                        if chunk:
                            await self.stream.send_all(chunk)
                    chunks = self.protocol.data_to_send()
            if stuck.cancelled_caught:
                await self._drop(f"send blocked for {self._options.send_timeout} s")
                raise self._closed()

    async def _drop(self, reason: str) -> None:
        """End the connection without a close handshake: the peer is not reading, or not answering."""
        logger.info("%s: %s; dropping the connection", self.remote, reason)
        self._dropped = reason
        self.protocol.receive_eof()
        await trio.aclose_forcefully(self.stream)  # the reader's receive_some ends with ClosedResourceError

    def _closed(self) -> ConnectionClosed:
        if self._dropped is not None:
            return ConnectionClosed(1006, self._dropped)
        return ConnectionClosed(self.protocol.close_code or 1006, self.protocol.close_reason or "")

    async def send(self, text: str) -> None:
        """Send one text message; raises :class:`ConnectionClosed` once the connection is closing."""
        if self.protocol.state is not State.OPEN or self._dropped is not None:
            raise self._closed()
        self.protocol.send_text(text.encode())
        try:
            await self._flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise ConnectionClosed(1006, self._dropped or "connection lost") from error

    async def receive(self) -> str | bytes:
        """The next message: text as ``str``, binary as ``bytes``; raises :class:`ConnectionClosed`."""
        while not self._messages:
            if self.protocol.state is State.CLOSED or (
                self.protocol.close_rcvd is not None and self.protocol.close_sent is not None
            ):
                await self.stream.aclose()  # both close frames crossed: the server ends TCP (RFC 6455 7.1.1)
                raise self._closed()
            deadline = min(self._ping_due, self._pong_due, self._close_due)
            with trio.move_on_at(deadline):
                try:
                    data = await self.stream.receive_some(READ_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                self._take(data)
                await self._flush_quietly()
                continue
            await self._on_deadline()
        return self._messages.pop(0)

    def _take(self, data: bytes | bytearray) -> None:
        if data:
            self.protocol.receive_data(data)
            if self._options.ping_interval is not None:
                self._ping_due = trio.current_time() + self._options.ping_interval
        else:
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if not isinstance(event, Frame):
                continue
            if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                if event.opcode is not Opcode.CONT:
                    self._fragments_binary = event.opcode is Opcode.BINARY
                self._fragments.append(bytes(event.data))
                if event.fin:
                    data = b"".join(self._fragments)
                    # websockets has already checked that a text message is valid UTF-8
                    self._messages.append(data if self._fragments_binary else data.decode())
                    self._fragments.clear()
            elif event.opcode is Opcode.PONG:
                self._pong_due = math.inf
        if self.protocol.state is State.CLOSING and self._close_due == math.inf:
            self._close_due = trio.current_time() + CLOSE_TIMEOUT

    async def _flush_quietly(self) -> None:
        """Flush from the connection's own task, which never waits behind a writer (see the module doc)."""
        if self._send_lock.locked():
            return  # the writer holding it sends what is queued before it lets go
        try:
            await self._flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed):
            self.protocol.receive_eof()

    async def _on_deadline(self) -> None:
        now = trio.current_time()
        if now >= self._close_due or now >= self._pong_due:
            reason = "no close frame in time" if now >= self._close_due else "keepalive timeout"
            logger.info("%s: %s; dropping the connection", self.remote, reason)
            if self.protocol.state is State.OPEN:
                self.protocol.fail(CloseCode.INTERNAL_ERROR, reason)
                await self._flush_quietly()
            self.protocol.receive_eof()
            await trio.aclose_forcefully(self.stream)  # a writer blocked in send_all gets ClosedResourceError
            raise ConnectionClosed(1011 if now >= self._pong_due else 1006, reason)
        self.protocol.send_ping(os.urandom(4))
        self._ping_due = math.inf
        self._pong_due = now + self._options.ping_timeout
        await self._flush_quietly()

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake; the connection's own ``receive`` sees it through."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self._close_due = trio.current_time() + CLOSE_TIMEOUT
            await self._flush_quietly()


class Upgrade:
    """A WebSocket upgrade request waiting for :meth:`accept` or :meth:`reject`."""

    def __init__(
        self, stream: trio.abc.Stream, protocol: ServerProtocol, request: Request, remote: str
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        self._request = request
        self.path = request.path
        self.remote = remote
        self.offered_subprotocols = tuple(
            part.strip()
            for header in request.headers.get_all("Sec-WebSocket-Protocol")
            for part in header.split(",")
            if part.strip()
        )
        self.authorization: str | None = request.headers.get("Authorization")
        self.tls = isinstance(stream, trio.SSLStream)
        # The client certificate, already verified by the TLS layer against the server's client CA.
        self.certificate: dict[str, Any] | None = None
        if isinstance(stream, trio.SSLStream):
            self.certificate = stream.getpeercert() or None
        self.answered = False

    async def accept(self, subprotocol: str, options: Options) -> Connection | None:
        """Complete the handshake with ``subprotocol``; None if the request was not a valid upgrade."""
        self.answered = True
        self._protocol.available_subprotocols = [Subprotocol(subprotocol)]
        response = self._protocol.accept(self._request)
        self._protocol.send_response(response)
        connection = Connection(self._stream, self._protocol, self.remote, options)
        await connection._flush_quietly()
        if response.status_code != 101:
            logger.info("%s: bad upgrade request: %s", self.remote, self._protocol.handshake_exc)
            return None
        return connection

    async def reject(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        self.answered = True
        response = self._protocol.reject(status, text)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        self._protocol.send_response(response)
        for chunk in self._protocol.data_to_send():
            if chunk:
                await self._stream.send_all(chunk)


Handler = Callable[[Upgrade], Awaitable[None]]


async def _read_upgrade(stream: trio.abc.Stream, protocol: ServerProtocol) -> Request | None:
    """The upgrade request; None (after answering 400 when there was something to answer) if none came."""
    while True:
        data = await stream.receive_some(READ_SIZE)
        if not data:
            return None  # closed before a request (port probes, health checks): nothing to answer
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Request):
                return event
        if protocol.handshake_exc is not None:
            # websockets queues its own 414/431 for an overlong line; for a request it cannot parse
            # (a raw space in the path) it only closes, so the 400 is built here.
            answer = b"".join(protocol.data_to_send())
            if not answer.startswith(b"HTTP/"):
                text = f"Failed to open a WebSocket connection: {protocol.handshake_exc}.\n"
                answer = protocol.reject(400, text).serialize()
            await _answer_and_close(stream, answer)
            return None


async def _answer_and_close(stream: trio.abc.Stream, answer: bytes) -> None:
    """Send ``answer``, end our side, and read (for at most a second) what the client still sends.

    Closing a socket with unread input makes the kernel send a reset, and a client that gets the reset
    before reading the answer never sees it (an overlong request line is exactly that case).
    """
    await stream.send_all(answer)
    if isinstance(stream, trio.SocketStream):
        await stream.send_eof()
    with trio.move_on_after(1.0):
        for _ in range(64):
            if not await stream.receive_some(READ_SIZE):
                break


async def _connection(tcp: trio.SocketStream, handler: Handler, options: Options) -> None:
    peer: Any = tcp.socket.getpeername()
    remote = f"[{peer[0]}]:{peer[1]}" if ":" in str(peer[0]) else f"{peer[0]}:{peer[1]}"
    stream: trio.abc.Stream = tcp
    if options.ssl_context is not None:
        stream = trio.SSLStream(tcp, options.ssl_context, server_side=True, https_compatible=True)
    protocol = ServerProtocol(max_size=options.max_message_bytes, logger=_PROTOCOL_LOG)
    try:
        with trio.move_on_after(options.handshake_timeout) as scope:
            request = await _read_upgrade(stream, protocol)
        if scope.cancelled_caught or request is None:
            return
        await handler(Upgrade(stream, protocol, request, remote))
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError) as error:
        logger.debug("%s: connection error %r", remote, error)
    except Exception:
        # One connection's failure must never take the listener, and every other station, down.
        logger.exception("%s: connection failed", remote)
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def serve(
    handler: Handler,
    host: str,
    port: int,
    options: Options,
    *,
    task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` (0 picks a free port, reported through ``task_status``) until cancelled."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]

    async def on_connection(stream: trio.SocketStream) -> None:
        await _connection(stream, handler, options)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, on_connection, listeners)
        task_status.started(bound)
