"""The fleet: starts a station actor when a station first connects and routes commands by id.

Routing is a dictionary lookup, not an actor hop: the fleet supervisor owns the station and
connector actors, and the fleet object only finds their references. Station actors are permanent
(they outlive connections); connector actors start on the first event that names them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from actors.commands import Command, StationOffline, UnknownStation, to_command
from actors.connector import ConnectorActor, ConnectorMessage, InspectConnector
from actors.connector_view import ConnectorView
from actors.handlers import Handler, Handlers
from actors.ocpp_stats import OcppStats
from actors.policy import FleetPolicy
from actors.station import (
    Attach,
    InspectStation,
    Line,
    LineSlot,
    SendCommand,
    StationActor,
    StationDeps,
    StationMessage,
    StationSnapshot,
)
from actors.transaction_ids import TransactionIds
from core.actor import ActorRef
from core.events import check_stream
from core.store import EventStore
from core.supervisor import ChildSpec, Restart, Runtime, Supervisor

ASK_MARGIN = 5.0  # seconds an operator waits beyond the station's own call timeout


class Fleet:
    """Every station of one CSMS process. Run :meth:`run` in a nursery (``open_csms`` does)."""

    def __init__(
        self, runtime: Runtime, store: EventStore, policy: FleetPolicy, *, node: str = "local"
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.policy = policy
        self.handlers = Handlers()
        self.stats = OcppStats()
        self.supervisor = Supervisor("fleet", runtime, intensity=100, period=10.0)
        self._slots: dict[str, LineSlot] = {}
        transaction_ids = self.supervisor.start_child(
            ChildSpec(
                id="transaction-ids",
                factory=lambda: TransactionIds(store, runtime.clock, f"node/{node}"),
                kind="transaction_ids",
            )
        )
        self._deps = StationDeps(
            store=store,
            clock=runtime.clock,
            policy=policy,
            handlers=self.handlers,
            transaction_ids=transaction_ids,
            connectors=self.running_connector,
            stats=self.stats,
        )

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await self.supervisor.run(task_status=task_status)

    # -- handlers ---------------------------------------------------------------------------------

    def on(self, action: str, handler: Handler) -> Callable[[], None]:
        """Register a handler for a station-initiated action (see ``actors.handlers``)."""
        return self.handlers.on(action, handler)

    # -- actors -----------------------------------------------------------------------------------

    def station_ref(self, station_id: str) -> ActorRef[StationMessage] | None:
        return self.supervisor.child(f"station/{station_id}")

    def ensure_station(self, station_id: str) -> ActorRef[StationMessage]:
        """The station's actor, started if this is its first connection since the process started."""
        check_stream(f"station/{station_id}")
        ref = self.station_ref(station_id)
        if ref is None:
            slot = self._slots.setdefault(station_id, LineSlot())
            ref = self.supervisor.start_child(
                ChildSpec(
                    id=f"station/{station_id}",
                    factory=lambda: StationActor(station_id, self._deps, slot),
                    kind="station",
                    restart=Restart.PERMANENT,
                    capacity=self.policy.mailbox_capacity,
                )
            )
        return ref

    def running_connector(self, station_id: str, connector: int) -> ActorRef[ConnectorMessage] | None:
        """The connector's actor if something has started it, else None (nothing is started)."""
        return self.supervisor.child(f"connector/{station_id}/{connector}")

    def connector(self, station_id: str, connector: int) -> ActorRef[ConnectorMessage]:
        """The connector's actor, started on first use: it rebuilds its state from the station stream.

        Connector actors start on demand (an inspection, a Modbus meter, load management), not for
        every connector a station reports: an idle connector costs no task and no mailbox, and the
        station's hot path does not hop through it. The live projection has every connector's state.
        """
        child_id = f"connector/{station_id}/{connector}"
        ref = self.supervisor.child(child_id)
        if ref is None:
            stream = f"station/{station_id}"
            ref = self.supervisor.start_child(
                ChildSpec(
                    id=child_id,
                    factory=lambda: ConnectorActor(self.store, stream, connector),
                    kind="connector",
                    capacity=self.policy.mailbox_capacity,
                )
            )
        return ref

    def stations(self) -> list[str]:
        """Ids of the stations with a running actor (connected now or since the process started)."""
        return [
            child.removeprefix("station/")
            for child in self.supervisor.children()
            if child.startswith("station/")
        ]

    # -- connections (used by the OCPP server) ----------------------------------------------------

    async def attach(self, station_id: str, line: Line) -> int:
        """Hand a new connection to its station actor; returns the connection number."""
        return await self.ensure_station(station_id).ask(lambda reply: Attach(line, reply), timeout=30)

    # -- commands and questions ------------------------------------------------------------------

    async def call(
        self,
        station_id: str,
        command: Command | Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - defaults to the station's call timeout
    ) -> dict[str, Any]:
        """Send a command to a station and return its reply payload once the reply is committed.

        Raises a :class:`~actors.commands.CommandError` subclass when there is no result.
        """
        try:
            check_stream(f"station/{station_id}")
        except ValueError as error:
            raise UnknownStation(f"no station can have the id {station_id!r}") from error
        ref = self.station_ref(station_id)
        if ref is None:
            if await self.store.stream_version(f"station/{station_id}") == 0:
                raise UnknownStation(f"no station {station_id!r} has ever connected")
            raise StationOffline(f"station {station_id} is not connected")
        wait = (
            timeout if timeout is not None else self.policy.for_station(station_id).call_timeout + ASK_MARGIN
        )
        return await ref.ask(lambda reply: SendCommand(to_command(command), reply), timeout=wait)

    async def inspect(self, station_id: str) -> StationSnapshot | None:
        ref = self.station_ref(station_id)
        if ref is None:
            return None
        return await ref.ask(InspectStation, timeout=10)

    async def inspect_connector(self, station_id: str, connector: int) -> ConnectorView:
        return await self.connector(station_id, connector).ask(InspectConnector, timeout=10)
