"""The fleet: starts a station actor when a station first connects and routes commands by id.

Routing is a dictionary lookup, not an actor hop: the supervisors own the actors, and the fleet
object only finds their references. Two supervisors, run by :meth:`Fleet.run` (or as children of
the composition root's supervisor): ``transaction-ids`` holds the transaction-id allocator, which
every station shares, and ``stations`` holds one subtree per station (``actors.station_tree``):
its station actor, permanent (it outlives connections), then its connector actors, started on
first use. A station that keeps crashing stops alone; see ``actors.station_tree``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import trio

from actors.commands import Command, StationOffline, UnknownStation, to_command
from actors.connector import ConnectorActor, ConnectorMessage, InspectConnector
from actors.connector_view import ConnectorView
from actors.handlers import Handler, Handlers
from actors.ocpp.dialect import Dialect
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
from actors.station_tree import StationFailures, StationTree
from actors.transaction_ids import Allocate, TransactionIds
from actors.upstream import UpstreamPort
from core.actor import ActorRef, ActorStopped, AskTimeout
from core.events import check_stream
from core.store import EventStore
from core.supervisor import ChildSpec, Escalation, Restart, Runtime, Supervisor

StationActorFactory = Callable[[str, StationDeps, LineSlot], StationActor]

SERVICE_RESTART = 1012  # WebSocket close code: reconnect (here: to whichever node serves the station now)
ASK_MARGIN = 5.0  # seconds an operator waits beyond the station's own call timeout


class Route(Protocol):
    """Where commands for stations served by another node go (several nodes sharing a store)."""

    def owns(self, station_id: str) -> bool:
        """Whether this node serves the station (holds its lease)."""
        ...

    async def call(self, station_id: str, command: Command, wait: float) -> dict[str, Any]:
        """Run the command on the node serving the station; its reply, or its ``CommandError``."""
        ...


class Fleet:
    """Every station of one CSMS process. Run :meth:`run` in a nursery (``open_csms`` does)."""

    def __init__(
        self,
        runtime: Runtime,
        store: EventStore,
        policy: FleetPolicy,
        *,
        node: str = "local",
        station_actor: StationActorFactory = StationActor,
    ) -> None:
        """``station_actor`` makes each station's actor: a subclass can inject faults in tests."""
        self.runtime = runtime
        self.store = store
        self.policy = policy
        self.station_actor = station_actor
        self.handlers = Handlers()
        self.stats = OcppStats()
        self._node = node
        self.route: Route | None = None
        """Set when nodes share the store: commands for stations this node does not serve go there."""
        self.transaction_ids_supervisor, transaction_ids = self._new_transaction_ids()
        # Its children are temporary station subtrees: none is restarted, so none counts to its intensity.
        self.stations_supervisor = Supervisor("stations", runtime)
        self._handed_out: set[str] = set()  # which of the two supervisors a parent has started
        self.failures = StationFailures(store, runtime.clock, policy, self.stats)
        self._slots: dict[str, LineSlot] = {}
        self._trees: dict[str, StationTree] = {}
        self._deps = StationDeps(
            store=store,
            clock=runtime.clock,
            policy=policy,
            handlers=self.handlers,
            transaction_ids=transaction_ids,
            connectors=self.running_connector,
            stats=self.stats,
            call=self.call,
        )

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run both supervisors (for embedding without the composition root's supervisor)."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.transaction_ids_tree().run)
            await nursery.start(self.stations_tree().run)
            task_status.started()

    # -- the two supervisors, as a parent supervisor's child factories ------------------------------

    def _new_transaction_ids(self) -> tuple[Supervisor, ActorRef[Allocate]]:
        supervisor = Supervisor("transaction-ids", self.runtime, intensity=5, period=10.0)
        ref = supervisor.start_child(
            ChildSpec(
                id="transaction-ids",
                factory=lambda: TransactionIds(self.store, self.runtime.clock, f"node/{self._node}"),
                kind="transaction_ids",
            )
        )
        return supervisor, ref

    def transaction_ids_tree(self) -> Supervisor:
        """The allocator's supervisor for a parent to run; a fresh one, rewired, on each restart.

        A supervisor that ended has retired its children, so a restart needs a new one; station
        actors look the allocator up through their shared deps and ask the new one from then on.
        """
        if "transaction-ids" in self._handed_out:
            self.transaction_ids_supervisor, self._deps.transaction_ids = self._new_transaction_ids()
        self._handed_out.add("transaction-ids")
        return self.transaction_ids_supervisor

    def stations_tree(self) -> Supervisor:
        """The stations supervisor for a parent to run; a fresh, empty one on each restart.

        Station subtrees start again as their stations reconnect (a restart of the stations
        supervisor also restarts the OCPP listener after it, which drops every connection).
        """
        if "stations" in self._handed_out:
            self.stations_supervisor = Supervisor("stations", self.runtime)
            self._trees.clear()
        self._handed_out.add("stations")
        return self.stations_supervisor

    # -- handlers ---------------------------------------------------------------------------------

    def on(self, action: str, handler: Handler) -> Callable[[], None]:
        """Register a handler for a station-initiated action (see ``actors.handlers``)."""
        return self.handlers.on(action, handler)

    # -- actors -----------------------------------------------------------------------------------

    def station_ref(self, station_id: str) -> ActorRef[StationMessage] | None:
        tree = self._trees.get(station_id)
        return tree.supervisor.child("station") if tree is not None else None

    def ensure_station(self, station_id: str) -> ActorRef[StationMessage]:
        """The station's actor, started if this is its first connection since the process started."""
        check_stream(f"station/{station_id}")
        ref = self.station_ref(station_id)
        if ref is not None:
            return ref
        slot = self._slots.setdefault(station_id, LineSlot())
        tree = StationTree(station_id, self.runtime, self.policy, self._station_failed)
        ref = tree.supervisor.start_child(
            ChildSpec(
                id="station",
                factory=lambda: self.station_actor(station_id, self._deps, slot),
                kind="station",
                restart=Restart.PERMANENT,
                capacity=self.policy.mailbox_capacity,
                shutdown=self.policy.station_shutdown,
            )
        )
        self._trees[station_id] = tree
        self.stations_supervisor.start_child(
            ChildSpec(
                id=f"station/{station_id}",
                factory=lambda: tree,
                kind="station_tree",
                restart=Restart.TEMPORARY,
                shutdown=self.policy.station_shutdown + 1.0,  # room for the station actor's own grace
            )
        )
        return ref

    async def _station_failed(self, station_id: str, escalation: Escalation) -> None:
        self._trees.pop(station_id, None)
        await self.failures.record(station_id, escalation, self._slots.setdefault(station_id, LineSlot()))

    def refused_for(self, station_id: str) -> float | None:
        """Seconds before a station whose subtree gave up may connect again; None if it may now."""
        return self.failures.refused_for(station_id)

    def running_connector(self, station_id: str, connector: int) -> ActorRef[ConnectorMessage] | None:
        """The connector's actor if something has started it, else None (nothing is started)."""
        tree = self._trees.get(station_id)
        return tree.supervisor.child(f"connector/{connector}") if tree is not None else None

    def connector(self, station_id: str, connector: int) -> ActorRef[ConnectorMessage]:
        """The connector's actor, started on first use: it rebuilds its state from the station stream.

        Connector actors start on demand (an inspection, a Modbus meter, load management), not for
        every connector a station reports: an idle connector costs no task and no mailbox, and the
        station's hot path does not hop through it. The live projection has every connector's state.
        """
        ref = self.running_connector(station_id, connector)
        if ref is None:
            self.ensure_station(station_id)
            stream = f"station/{station_id}"
            ref = self._trees[station_id].supervisor.start_child(
                ChildSpec(
                    id=f"connector/{connector}",
                    factory=lambda: ConnectorActor(self.store, stream, connector),
                    kind="connector",
                    capacity=self.policy.mailbox_capacity,
                )
            )
        return ref

    async def retire(self, station_id: str, reason: str | None = None) -> None:
        """Stop the station's actors (its node gave up or lost the station); with ``reason``, close
        its connection first. Its next connection starts them afresh from the log."""
        slot = self._slots.get(station_id)
        if reason is not None and slot is not None and slot.line is not None:
            line, slot.line = slot.line, None
            await line.close(reason, code=SERVICE_RESTART)
        if self._trees.pop(station_id, None) is not None:
            await self.stations_supervisor.stop_child(f"station/{station_id}")

    async def settle(self, station_id: str) -> None:
        """Wait until the station actor has handled what is already in its mailbox."""
        ref = self.station_ref(station_id)
        if ref is not None:
            try:
                await ref.ask(InspectStation, timeout=10)
            except (ActorStopped, AskTimeout):
                pass

    def stations(self) -> list[str]:
        """Ids of the stations with a running actor (connected now or since the process started)."""
        return list(self._trees)

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
        local: bool = False,
    ) -> dict[str, Any]:
        """Send a command to a station and return its reply payload once the reply is committed.

        With a :attr:`route`, a station this node does not serve is reached through it, unless
        ``local`` (a call another node forwarded here). Raises a
        :class:`~actors.commands.CommandError` subclass when there is no result.
        """
        try:
            check_stream(f"station/{station_id}")
        except ValueError as error:
            raise UnknownStation(f"no station can have the id {station_id!r}") from error
        call_timeout = self.policy.longest_call_timeout(station_id)
        wait = timeout if timeout is not None else call_timeout + ASK_MARGIN
        if self.route is not None and not local and not self.route.owns(station_id):
            return await self.route.call(station_id, to_command(command), wait)
        ref = self.station_ref(station_id)
        if ref is None:
            if await self.store.stream_version(f"station/{station_id}") == 0:
                raise UnknownStation(f"no station {station_id!r} has ever connected")
            raise StationOffline(f"station {station_id} is not connected")
        # Never sent once this caller has given up; sent only while the station's whole reply window
        # still fits in the caller's wait, when it can (issue 10, defect 6).
        now = self.runtime.clock.monotonic()
        send_by = now + (wait - call_timeout if wait > call_timeout else wait)
        return await ref.ask(lambda reply: SendCommand(to_command(command), reply, send_by), timeout=wait)

    def forward_upstream(self, upstream: UpstreamPort) -> None:
        """Make every station actor forward its station's calls to ``upstream`` (a local controller)."""
        self._deps.upstream = upstream

    def dialect_of(self, station_id: str) -> Dialect | None:
        """The dialect of the station's current (or last) connection, if its actor ever ran here."""
        return self._deps.dialects.get(station_id)

    async def inspect(self, station_id: str) -> StationSnapshot | None:
        ref = self.station_ref(station_id)
        if ref is None:
            return None
        return await ref.ask(InspectStation, timeout=10)

    async def inspect_connector(self, station_id: str, connector: int) -> ConnectorView:
        return await self.connector(station_id, connector).ask(InspectConnector, timeout=10)
