"""The OCPP-J WebSocket server: handshake rules, keepalive, and frames to station actors.

Thin by design (the h11 idea): it checks the path, picks the subprotocol (``ocpp2.0.1`` and ``ocpp1.6``
on the same port and path, the first of ``ServerOptions.subprotocols`` the station offers; the station
actor takes its dialect from it), hands the connection to the station's actor, and forwards every text
frame with its receive time. Everything OCPP happens in the actor. Backpressure is end to end: when a
station actor's mailbox is full, this reader stops reading and TCP pushes back on the station. The
WebSocket itself is ``adapters.websocket`` (one task per connection); ``ssl_context`` turns on TLS
(wss://). Who may connect as which station (security profiles, passwords, client certificates, failure
limits) is decided at the upgrade by ``adapters.station_gate``, before the connection is accepted.
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

import trio

from actors.fleet import Fleet
from actors.ocpp.versions import SUBPROTOCOLS
from actors.station import Detach, FrameIn
from actors.station_tree import TRY_AGAIN_LATER
from adapters import websocket
from adapters.station_gate import Presented, Refused, SecurityOptions, StationGate
from core.clock import Clock

logger = logging.getLogger("chargeward.ocpp_server")

_STATION_ID = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]{1,64}")  # RFC 3986 pchar minus '%' and '/'


@dataclass(frozen=True, slots=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 9000
    max_frame_bytes: int = 64 * 1024
    ping_interval: float = 30.0  # seconds between WebSocket pings
    ping_timeout: float = 15.0  # a pong later than this drops the connection
    send_timeout: float = 10.0  # a write blocked this long (the station stopped reading) drops it
    ssl_context: ssl.SSLContext | None = None
    subprotocols: tuple[str, ...] = SUBPROTOCOLS  # accepted, the server's preference first
    security: SecurityOptions = field(default_factory=SecurityOptions)


class Ownership(Protocol):
    """Which node serves a station, when several share a store (``adapters.cluster.ClusterNode``)."""

    async def open(self, station_id: str) -> str | None:
        """Make this node the station's server for a new connection; None if it is, else why not."""
        ...

    async def close(self, station_id: str) -> None:
        """A connection that ``open`` accepted ended."""
        ...


class BadStationPath(ValueError):
    """The request path is not /ocpp/<station_id> with a valid id."""


def station_id_from_path(path: str) -> str:
    """The percent-decoded station id of ``/ocpp/<station_id>``; raises :class:`BadStationPath`."""
    route, _, _query = path.partition("?")
    prefix = "/ocpp/"
    if not route.startswith(prefix) or "/" in route[len(prefix) :]:
        raise BadStationPath(f"connect to /ocpp/<station_id>, not {route!r}")
    station_id = unquote(route[len(prefix) :], errors="strict")
    if station_id in (".", ".."):  # dot segments: a proxy or log tool would resolve them as paths
        raise BadStationPath(f"station id {station_id!r} is a dot segment, not an id")
    if not _STATION_ID.fullmatch(station_id):
        raise BadStationPath(
            f"station id {station_id!r} must be 1-64 characters of letters, digits and ._~:@!$&'()*+,;=-"
        )
    return station_id


class WebSocketLine:
    """A station connection as the station actor sees it (the ``actors.station.Line`` protocol)."""

    def __init__(self, connection: websocket.Connection) -> None:
        self.connection = connection
        self.subprotocol = connection.subprotocol
        self.remote = connection.remote

    async def send(self, text: str) -> None:
        await self.connection.send(text)

    async def close(self, reason: str, code: int = 1000) -> None:
        await self.connection.aclose(code, reason[:120])


class OcppServer:
    """Serves ``ws://host:port/ocpp/<station_id>``; run :meth:`serve` in a nursery."""

    def __init__(
        self,
        fleet: Fleet,
        clock: Clock,
        options: ServerOptions,
        ownership: Ownership | None = None,
        gate: StationGate | None = None,
    ) -> None:
        self.fleet = fleet
        self.ownership = ownership
        self.clock = clock
        self.options = options
        self.gate = gate or StationGate(options.security, fleet.policy, fleet.store, clock)
        self.port: int | None = None
        self.rejected_handshakes = 0
        self._options = websocket.Options(
            max_message_bytes=options.max_frame_bytes,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            send_timeout=options.send_timeout,
            ssl_context=options.ssl_context,
        )

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self.port = await nursery.start(
                websocket.serve, self._handle, self.options.host, self.options.port, self._options
            )
            scheme = "ws" if self.options.ssl_context is None else "wss"
            logger.info(
                "OCPP server listening on %s://%s:%s/ocpp/<station_id>", scheme, self.options.host, self.port
            )
            task_status.started(self.port)

    async def _reject(
        self, upgrade: websocket.Upgrade, status: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self.rejected_handshakes += 1
        logger.info("rejected handshake from %s for %r: %s", upgrade.remote, upgrade.path, message.strip())
        await upgrade.reject(status, message, headers)

    async def _handle(self, upgrade: websocket.Upgrade) -> None:
        try:
            station_id = station_id_from_path(upgrade.path)
        except (BadStationPath, UnicodeDecodeError) as error:
            await self._reject(upgrade, 404, f"{error}\n")
            return
        presented = Presented(
            upgrade.remote, station_id, upgrade.tls, upgrade.authorization, upgrade.certificate
        )
        try:
            profile = await self.gate.admit(presented)
        except Refused as refusal:
            await self.gate.refused(presented, refusal)
            await self._reject(upgrade, refusal.status, refusal.detail + "\n", refusal.headers)
            return
        refused = self.fleet.refused_for(station_id)
        if refused is not None:
            await self._reject(
                upgrade, 503, f"station {station_id} failed and is refused for {refused:.0f} s more\n"
            )
            return
        offered = upgrade.offered_subprotocols
        supported = self.options.subprotocols
        chosen = next((p for p in supported if p in offered), None)
        if chosen is None:
            await self._reject(
                upgrade,
                400,
                f"no supported OCPP subprotocol offered (got {list(offered)}); "
                f"this server speaks {list(supported)}\n",
            )
            return
        try:
            claim = self.gate.claim(station_id, profile)
        except Refused as refusal:
            await self.gate.refused(presented, refusal)
            await self._reject(upgrade, refusal.status, refusal.detail + "\n", refusal.headers)
            return
        try:
            await self._run(upgrade, station_id, chosen)
        finally:
            self.gate.release(station_id, claim)

    async def _run(self, upgrade: websocket.Upgrade, station_id: str, subprotocol: str) -> None:
        connection = await upgrade.accept(subprotocol, self._options)
        if connection is None:
            return
        if self.ownership is None:
            await self._serve(station_id, connection)
            return
        # Accepted first: the station's frames wait in TCP while the lease is taken (up to a lease period).
        elsewhere = await self.ownership.open(station_id)
        if elsewhere is not None:
            logger.info("station %s refused: %s", station_id, elsewhere)
            await connection.aclose(TRY_AGAIN_LATER, elsewhere[:120])
            return
        try:
            await self._serve(station_id, connection)
        finally:
            with trio.move_on_after(15) as cleanup:
                cleanup.shield = True
                await self.ownership.close(station_id)

    async def _serve(self, station_id: str, connection: websocket.Connection) -> None:
        conn = await self.fleet.attach(station_id, WebSocketLine(connection))
        ref = self.fleet.ensure_station(station_id)
        reason = "server shutting down"
        try:
            while True:
                text = await connection.receive()
                await ref.send(FrameIn(conn, text, self.clock.wall()))
        except websocket.ConnectionClosed as closed:
            reason = f"closed ({closed.code}{' ' + closed.reason if closed.reason else ''})"
        finally:
            with trio.move_on_after(5) as cleanup:
                cleanup.shield = True
                await ref.send(Detach(conn, reason))
