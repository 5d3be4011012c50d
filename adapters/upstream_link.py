"""The upstream side of a local controller: each station's WebSocket to the upstream CSMS, and the
supervisor of the links (``actors.upstream``).

:class:`WebSocketDialer` opens a station's link with trio-websocket (a client; the server side is
``adapters.websocket``): ``url + "/" + station id``, the station's own OCPP subprotocol, and its
upstream credentials by security profile (HTTP Basic with the station id as user for profiles 1 and
2, a client certificate for 3, the upstream verified against ``ca_file`` over ``wss://``).

:class:`UpstreamLinks` is the station actors' :class:`~actors.upstream.UpstreamPort`: it starts a
station's link under the ``upstream`` supervisor on the station's first connection, and finds it
afterwards with a dictionary lookup, so a forwarded call costs one ask, no lookup actor.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from urllib.parse import quote

import trio
import trio_websocket

from actors.ocpp.dialect import Dialect
from actors.ocpp.versions import V16, by_version
from actors.upstream.link import (
    CommandCall,
    InspectLink,
    LinkClosed,
    LinkMessage,
    LinkStatus,
    UpstreamLink,
    UpstreamStats,
)
from adapters.upstream_config import UpstreamOptions
from core.actor import ActorRef, ActorStopped, AskTimeout
from core.store import EventStore
from core.supervisor import ChildSpec, Runtime, Supervisor

CONNECT_TIMEOUT = 10.0
MAX_MESSAGE_BYTES = 1024 * 1024
# Link restarts (a bug, a store that cannot be read) before the upstream supervisor gives up.
INTENSITY = 50
PERIOD = 60.0


class TrioSocket:
    """A trio-websocket connection as the link's :class:`~actors.upstream.link.Socket`."""

    def __init__(self, connection: trio_websocket.WebSocketConnection, url: str) -> None:
        self.connection = connection
        self.url = url

    async def send(self, text: str) -> None:
        try:
            await self.connection.send_message(text)
        except trio_websocket.ConnectionClosed as closed:
            raise LinkClosed(f"closed ({closed.reason})") from None

    async def receive(self) -> str:
        try:
            message = await self.connection.get_message()
        except trio_websocket.ConnectionClosed as closed:
            raise LinkClosed(f"closed ({closed.reason})") from None
        return message if isinstance(message, str) else message.decode("utf-8", "replace")


class WebSocketDialer:
    """Opens stations' links to ``options.url`` (the link actor's :class:`Dialer`)."""

    def __init__(self, options: UpstreamOptions) -> None:
        self.options = options
        self._ssl = options.ssl_context()

    def url_of(self, station_id: str) -> str:
        return f"{self.options.url.rstrip('/')}/{quote(station_id, safe='')}"

    def headers_of(self, station_id: str) -> list[tuple[bytes, bytes]]:
        own = self.options.stations.get(station_id)
        if self.options.profile_of(station_id) not in (1, 2):
            return []
        if own is None or own.password is None:
            raise LinkClosed(
                f"no password for {station_id} at security profile {self.options.profile_of(station_id)} "
                f'(set [upstream.stations."{station_id}"] password)'
            )
        basic = base64.b64encode(f"{station_id}:{own.password}".encode()).decode()
        return [(b"Authorization", f"Basic {basic}".encode())]

    @asynccontextmanager
    async def open(self, station_id: str, subprotocol: str) -> AsyncIterator[TrioSocket]:
        url = self.url_of(station_id)
        headers = self.headers_of(station_id)
        try:
            async with trio_websocket.open_websocket_url(
                url,
                self._ssl,
                subprotocols=[subprotocol],
                extra_headers=headers,
                max_message_size=MAX_MESSAGE_BYTES,
                connect_timeout=CONNECT_TIMEOUT,
                disconnect_timeout=2.0,
            ) as connection:
                if connection.subprotocol != subprotocol:
                    raise LinkClosed(f"{url} did not accept {subprotocol} (chose {connection.subprotocol!r})")
                yield TrioSocket(connection, url)
        except trio_websocket.ConnectionRejected as rejected:
            raise LinkClosed(f"{url} refused the upgrade: HTTP {rejected.status_code}") from None
        except (OSError, trio_websocket.HandshakeError, trio.TooSlowError) as error:
            raise LinkClosed(f"cannot reach {url}: {error!r}") from None


class UpstreamLinks:
    """Every station's upstream link: the station actors' ``UpstreamPort`` and the API's view."""

    def __init__(
        self, options: UpstreamOptions, runtime: Runtime, store: EventStore, call: CommandCall
    ) -> None:
        self.options = options
        self.runtime = runtime
        self.store = store
        self.call = call
        self.reply_timeout = options.settings.reply_timeout
        self.dialer = WebSocketDialer(options)
        self.stats = UpstreamStats()
        self.supervisor = Supervisor("upstream", runtime, intensity=INTENSITY, period=PERIOD)
        self._links: dict[str, ActorRef[LinkMessage]] = {}
        self._dialects: dict[str, Dialect] = {}
        self._handed_out = False

    def tree(self) -> Supervisor:
        """The links' supervisor for the root to run; a fresh one on each restart, with the links of
        the stations seen so far started again (each resumes from its log)."""
        if self._handed_out:
            self.supervisor = Supervisor("upstream", self.runtime, intensity=INTENSITY, period=PERIOD)
            self._links.clear()
            for station_id, dialect in list(self._dialects.items()):
                self.link(station_id, dialect)
        self._handed_out = True
        return self.supervisor

    def link(self, station_id: str, dialect: Dialect) -> ActorRef[LinkMessage]:
        ref = self._links.get(station_id)
        if ref is None:
            self._dialects[station_id] = dialect
            ref = self._links[station_id] = self.supervisor.start_child(
                ChildSpec(
                    id=f"upstream/{station_id}",
                    factory=lambda: UpstreamLink(
                        station_id,
                        dialect,
                        self.dialer,
                        self.store,
                        self.runtime.clock,
                        self.call,
                        self.options.settings,
                        self.stats,
                    ),
                    kind="upstream_link",
                    capacity=64,
                )
            )
        return ref

    async def resume(self, stations: Iterable[tuple[str, str | None]]) -> int:
        """Start the links of ``stations`` (id, OCPP version of the last connection) that had one
        before this process started, so a backlog left by a restart or a kill -9 drains whether or
        not the station reconnects; the number started."""
        started = 0
        for station_id, version in stations:
            if station_id in self._links or await self.store.stream_version(f"upstream/{station_id}") == 0:
                continue
            self.link(station_id, by_version(version) if version is not None else V16)
            started += 1
        return started

    def stations(self) -> list[str]:
        return sorted(self._links)

    async def status(self, station_id: str) -> LinkStatus | None:
        ref = self._links.get(station_id)
        if ref is None:
            return None
        try:
            return await ref.ask(InspectLink, timeout=5)
        except (AskTimeout, ActorStopped):
            return None


__all__ = ["TrioSocket", "UpstreamLinks", "WebSocketDialer"]
