"""The OCPP-J WebSocket server on trio-websocket: handshake, keepalive, and frames to station actors.

Thin by design (the h11 idea): it checks the path and subprotocol, hands the connection to the
station's actor, and forwards every text frame with its receive time. Everything OCPP happens in the
actor. Backpressure is end to end: when a station actor's mailbox is full, this reader stops reading
and TCP pushes back on the station.
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from actors.fleet import Fleet
from actors.station import Detach, FrameIn
from core.clock import Clock

logger = logging.getLogger("chargeward.ocpp_server")

SUBPROTOCOLS = ("ocpp1.6",)
_STATION_ID = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]{1,64}")  # RFC 3986 pchar minus '%' and '/'


@dataclass(frozen=True, slots=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 9000
    max_frame_bytes: int = 64 * 1024
    ping_interval: float = 30.0  # seconds between WebSocket pings
    ping_timeout: float = 15.0  # a pong later than this drops the connection
    ssl_context: ssl.SSLContext | None = None


class BadStationPath(ValueError):
    """The request path is not /ocpp/<station_id> with a valid id."""


def station_id_from_path(path: str) -> str:
    """The percent-decoded station id of ``/ocpp/<station_id>``; raises :class:`BadStationPath`."""
    route, _, _query = path.partition("?")
    prefix = "/ocpp/"
    if not route.startswith(prefix) or "/" in route[len(prefix) :]:
        raise BadStationPath(f"connect to /ocpp/<station_id>, not {route!r}")
    station_id = unquote(route[len(prefix) :], errors="strict")
    if not _STATION_ID.fullmatch(station_id):
        raise BadStationPath(
            f"station id {station_id!r} must be 1-64 characters of letters, digits and ._~:@!$&'()*+,;=-"
        )
    return station_id


class WebSocketLine:
    """A station connection as the station actor sees it (the ``actors.station.Line`` protocol)."""

    def __init__(self, ws: WebSocketConnection, subprotocol: str, remote: str) -> None:
        self.ws = ws
        self.subprotocol = subprotocol
        self.remote = remote

    async def send(self, text: str) -> None:
        await self.ws.send_message(text)

    async def close(self, reason: str) -> None:
        await self.ws.aclose(1000, reason[:120])


class OcppServer:
    """Serves ``ws://host:port/ocpp/<station_id>``; run :meth:`serve` in a nursery."""

    def __init__(self, fleet: Fleet, clock: Clock, options: ServerOptions) -> None:
        self.fleet = fleet
        self.clock = clock
        self.options = options
        self.port: int | None = None
        self.rejected_handshakes = 0

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: serve_websocket(
                    self._handle,
                    self.options.host,
                    self.options.port,
                    self.options.ssl_context,
                    max_message_size=self.options.max_frame_bytes,
                    connect_timeout=10.0,
                    disconnect_timeout=5.0,
                    task_status=task_status,
                )
            )
            self.port = server.port
            logger.info("OCPP server listening on ws://%s:%s/ocpp/<station_id>", self.options.host, self.port)
            task_status.started(self.port)

    async def _reject(self, request: WebSocketRequest, status: int, message: str) -> None:
        self.rejected_handshakes += 1
        logger.info("rejected handshake for %r: %s", request.path, message)
        await request.reject(status, extra_headers=[(b"content-type", b"text/plain")], body=message.encode())

    async def _handle(self, request: WebSocketRequest) -> None:
        try:
            station_id = station_id_from_path(request.path)
        except (BadStationPath, UnicodeDecodeError) as error:
            await self._reject(request, 404, f"{error}\n")
            return
        offered = request.proposed_subprotocols
        chosen = next((p for p in offered if p in SUBPROTOCOLS), None)
        if chosen is None:
            await self._reject(
                request,
                400,
                f"no supported OCPP subprotocol offered (got {list(offered)}); "
                f"this server speaks {list(SUBPROTOCOLS)}\n",
            )
            return
        ws = await request.accept(subprotocol=chosen)
        peer = request.remote
        remote = peer if isinstance(peer, str) else f"{peer.address}:{peer.port}"
        conn = await self.fleet.attach(station_id, WebSocketLine(ws, chosen, remote))
        ref = self.fleet.ensure_station(station_id)
        reason = "server shutting down"
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keepalive, ws)
                try:
                    while True:
                        message = await ws.get_message()
                        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                        await ref.send(FrameIn(conn, text, self.clock.wall()))
                except ConnectionClosed as closed:
                    why = closed.reason
                    reason = (
                        "closed"
                        if why is None
                        else f"closed ({why.code} {why.name} {why.reason or ''})".strip()
                    )
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            with trio.move_on_after(5) as cleanup:
                cleanup.shield = True
                await ref.send(Detach(conn, reason))
                await ws.aclose()

    async def _keepalive(self, ws: WebSocketConnection) -> None:
        """Ping every interval; a station that does not pong in time is disconnected."""
        while True:
            await trio.sleep(self.options.ping_interval)
            with trio.move_on_after(self.options.ping_timeout):
                try:
                    await ws.ping()
                except ConnectionClosed:
                    return
                continue
            logger.info("no pong within %s s from %s; closing", self.options.ping_timeout, ws.remote)
            await ws.aclose(1011, "keepalive timeout")
            return
