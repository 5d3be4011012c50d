"""The composition root: ``async with open_csms(config) as csms`` wires store, runtime, fleet,
live projection, the OCPP server and (with ``config.api`` set) the HTTP API.

Everything but the store runs under one root supervisor, ``rest_for_one``, children in start order
(each is ready before the next starts): transaction ids, stations, Modbus devices, sites (one
load-management actor per ``[sites.<id>]``), upstream links (``[upstream]``: one per station, see
``adapters.upstream_link``), projections, the transaction index, OCPP listener, API.
A child that fails restarts with everything after it, which depends on it. A single station cannot
get here: its own subtree stops it alone (``actors.station_tree``). More than ``ROOT_INTENSITY``
restarts in ``ROOT_PERIOD`` seconds ends ``open_csms`` with the error.

The store (its batching writer and committer) is not a child: it is the scope the tree runs in.
Every actor holds the store object and appends through it, so restarting it would orphan every
reference; a failed commit fails only that batch's messages instead (the writer's own rule), and a
store that cannot be opened or written at all ends the process, which then restarts from the log.

This is the embedding API: a CSMS built on chargeward registers handlers with :meth:`Csms.on`,
sends commands with ``await csms.station(id).call(command)``, reads live state from
:attr:`Csms.live` and follows the log through :attr:`Csms.store`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import trio

from actors.commands import Command
from actors.connector_view import ConnectorView
from actors.device_profile import DeviceKind
from actors.fleet import Fleet, StationActorFactory
from actors.handlers import Handler
from actors.meter import ModbusStats
from actors.site import SiteActor, SiteMessage, SiteStats
from actors.sites import ConnectorId
from actors.station import StationActor, StationSnapshot
from adapters.api import serve_api
from adapters.certificate_signing import CertificateSigner
from adapters.cluster import ClusterNode, check_node_store, cluster_node
from adapters.config import Config
from adapters.metrics import attach_metrics
from adapters.modbus_fleet import ModbusDevices, run_modbus
from adapters.ocpp_server import OcppServer
from adapters.site_control import FleetControl
from adapters.stale_connections import close_stale_connections
from adapters.station_gate import StationGate
from adapters.stores import open_store
from adapters.upstream_link import UpstreamLinks
from core.actor import ActorRef
from core.projection import ProjectionRunner, StoredCheckpoint
from core.service import Service
from core.store import EventStore, SnapshotStore
from core.supervisor import Backoff, ChildSpec, Runtime, Strategy, Supervisor
from projections.live import LiveProjection, LiveState, state_codec
from projections.transactions import TransactionIndexRunner, TransactionIndexStore

logger = logging.getLogger("chargeward")

# More than 3 restarts of the root's children in 60 s: restarting does not help, the process exits
# (with an error, for systemd or the container runtime to restart it from the log).
ROOT_INTENSITY = 3
ROOT_PERIOD = 60.0
SHUTDOWN_MARGIN = 10.0  # s beyond the station actors' grace for the whole ordered shutdown

# A site actor failing more than 10 times in 60 s takes its siblings down with it and the root
# restarts the sites subtree with everything after it.
SITE_INTENSITY = 10
SITE_PERIOD = 60.0

LIVE_CHECKPOINT = "projection/live"
"""The snapshot key of the live projection's checkpoint."""


@dataclass(frozen=True, slots=True)
class StationHandle:
    """Commands and questions for one station, by id."""

    fleet: Fleet
    station_id: str

    async def call(
        self,
        command: Command | Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - defaults to the station's call timeout
    ) -> dict[str, Any]:
        """Send a command (a Command or an ``ocpp.v16.call`` object); the station's reply payload."""
        return await self.fleet.call(self.station_id, command, timeout=timeout)

    async def inspect(self) -> StationSnapshot | None:
        return await self.fleet.inspect(self.station_id)

    async def connector(self, number: int) -> ConnectorView:
        return await self.fleet.inspect_connector(self.station_id, number)


class Csms:
    """A running chargeward core; get one from :func:`open_csms`."""

    def __init__(
        self,
        config: Config,
        store: EventStore,
        runtime: Runtime,
        fleet: Fleet,
        live: ProjectionRunner[LiveState],
        transactions: TransactionIndexRunner,
    ) -> None:
        self.config = config
        self.store = store
        self.runtime = runtime
        self.fleet = fleet
        self.live = live
        self.transactions = transactions
        self.ocpp_port: int | None = None
        self.api_port: int | None = None  # None: no HTTP API (config.api is None)
        self.modbus: ModbusDevices | None = None  # None: no [[modbus.devices]] configured
        self.modbus_stats = ModbusStats()  # exists before the devices start, so metrics can hook in first
        self.root: Supervisor | None = None  # the supervision tree's root, once running
        # Who may connect as which station (adapters.station_gate); its refusals feed /metrics.
        self.gate = StationGate(config.server.security, fleet.policy, store, runtime.clock)
        self.cluster: ClusterNode | None = None  # [node]: one of several nodes sharing the store
        self.sites: dict[str, ActorRef[SiteMessage]] = {}  # site actors by site id ([sites.<id>])
        self.site_stats: dict[str, SiteStats] = {site.id: SiteStats() for site in config.sites}
        self.upstream: UpstreamLinks | None = None  # [upstream]: each station's link to the upstream CSMS

    def station(self, station_id: str) -> StationHandle:
        return StationHandle(self.fleet, station_id)

    def on(self, action: str, handler: Handler) -> Callable[[], None]:
        """Register a handler for a station-initiated action; returns its unregister function."""
        return self.fleet.on(action, handler)


@asynccontextmanager
async def open_csms(
    config: Config,
    *,
    runtime: Runtime | None = None,
    serve_ocpp: bool = True,
    station_actor: StationActorFactory = StationActor,
) -> AsyncIterator[Csms]:
    """Run chargeward for the duration of the block; everything stops when it exits.

    ``station_actor`` makes each station's actor (see :class:`~actors.fleet.Fleet`).
    """
    runtime = runtime or Runtime()
    if config.store_url is None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    if config.node is not None and config.node.name is not None:
        check_node_store(config.node, config.resolved_store_url)
    async with open_store(config.resolved_store_url) as store, trio.open_nursery() as nursery:
        fleet = Fleet(runtime, store, config.fleet_policy, station_actor=station_actor)
        live = live_runner(store, config)
        transactions = transaction_index(store, config)
        csms = Csms(config, store, runtime, fleet, live, transactions)
        if config.node is not None and config.node.name is not None:
            # Before anything appends: the node is the store's fence (it outlives the tree, so it
            # releases its leases after the stations stopped).
            csms.cluster = await nursery.start(
                cluster_node(config.node, store, config.resolved_store_url, fleet, live, runtime.clock).run
            )
            fleet.route = csms.cluster
        root = Supervisor(
            "root", runtime, strategy=Strategy.REST_FOR_ONE, intensity=ROOT_INTENSITY, period=ROOT_PERIOD
        )
        csms.root = root
        await nursery.start(root.run)

        async def start(name: str, run: Callable[..., Awaitable[Any]], ready: Callable[[Any], None]) -> None:
            service = Service(run, ready)
            root.start_child(ChildSpec(id=name, factory=lambda: service, kind="service"))
            await service.wait_started()

        root.start_child(
            ChildSpec(id="transaction-ids", factory=fleet.transaction_ids_tree, kind="supervisor")
        )
        # Stopped with a grace (a restart of the transaction ids): each station actor is interrupted
        # and finishes the message in hand, a commit and its answer, before it is cancelled.
        grace = config.fleet.station_shutdown + 1.0
        root.start_child(
            ChildSpec(id="stations", factory=fleet.stations_tree, kind="supervisor", shutdown=grace)
        )
        if config.api is not None:
            attach_metrics(csms, config.metrics)  # before any traffic, so the histograms see it all
        if config.modbus:
            modbus = partial(
                run_modbus, config.modbus, runtime, store, connectors=fleet.connector, stats=csms.modbus_stats
            )
            await start("modbus-devices", modbus, partial(setattr, csms, "modbus"))
        if config.sites:
            root.start_child(ChildSpec(id="sites", factory=partial(sites_tree, csms), kind="supervisor"))
        if config.upstream is not None:
            # A site's stations get the upstream's Tx profiles as limits (actors.upstream.profiles).
            sited = frozenset(station for site in config.sites for station in site.stations)
            options = replace(config.upstream, settings=replace(config.upstream.settings, sited=sited))
            csms.upstream = UpstreamLinks(options, runtime, store, fleet.call)
            fleet.forward_upstream(csms.upstream)
            root.start_child(ChildSpec(id="upstream", factory=csms.upstream.tree, kind="supervisor"))
        await start("projections", live.run, _ignore)
        if csms.upstream is not None:  # links with a backlog left by the last run drain at once
            await live.wait_for(await store.head())
            stations = live.state.stations.values()
            await csms.upstream.resume((view.station_id, view.ocpp_version) for view in stations)
        await start("transaction-index", transactions.run, _ignore)
        if csms.cluster is None:  # with several nodes, the next owner of a station records it
            await close_stale_connections(store, live, runtime.clock)  # before the OCPP port opens
        if config.signing_ca is not None:
            signer = CertificateSigner(config.signing_ca, fleet)
            await start("certificate-signer", signer.run, _ignore)
        if serve_ocpp:
            server = OcppServer(fleet, runtime.clock, config.server, csms.cluster, csms.gate)
            await start("ocpp-listener", server.serve, partial(setattr, csms, "ocpp_port"))
        if config.api is not None:
            await start("api", partial(serve_api, csms, config.api), partial(setattr, csms, "api_port"))
        try:
            yield csms
        finally:
            # Stop in reverse start order, as the root's rest_for_one restarts do: the API and the OCPP
            # listener first, so each connection detaches from a station actor still running (which
            # records the disconnect), then the actors, each with its grace, and the store last.
            with trio.move_on_after(grace + SHUTDOWN_MARGIN) as stopping:
                stopping.shield = True
                await root.shutdown()
            nursery.cancel_scope.cancel()


def sites_tree(csms: Csms) -> Supervisor:
    """One site actor per configured site, acting through SetChargingProfile and EVSE setpoints.

    A connector bound to a Modbus EVSE controller is driven through that controller. Called again on
    each restart of the sites subtree, so :attr:`Csms.sites` always holds the running actors.
    """
    config = csms.config
    controllers = {
        ConnectorId(device.binding.station, device.binding.connector): device.id
        for device in config.modbus
        if device.kind is DeviceKind.EVSE
        and device.binding.station is not None
        and device.binding.connector is not None
    }
    control = FleetControl(csms.fleet, controllers, lambda: csms.modbus)
    supervisor = Supervisor(
        "sites",
        csms.runtime,
        intensity=SITE_INTENSITY,
        period=SITE_PERIOD,
        backoff=Backoff(first=0.5, ceiling=10.0),
    )
    for site in config.sites:
        own = {key: device for key, device in controllers.items() if key.station in site.stations}
        actor = partial(
            SiteActor, site, csms.store, csms.runtime.clock, control, csms.site_stats[site.id], own
        )
        csms.sites[site.id] = supervisor.start_child(
            ChildSpec(id=f"site/{site.id}", factory=actor, kind="site", capacity=16)
        )
    return supervisor


def live_runner(store: EventStore, config: Config) -> ProjectionRunner[LiveState]:
    """The live projection's runner, checkpointing into the store when the store keeps snapshots."""
    checkpoint = StoredCheckpoint(store, LIVE_CHECKPOINT) if isinstance(store, SnapshotStore) else None
    projection = LiveProjection(config.state.finished_transactions)
    return ProjectionRunner(
        projection,
        store,
        checkpoint=checkpoint,
        checkpoint_every=config.state.checkpoint_every,
        checkpoint_interval=config.state.checkpoint_interval,
        encoding=state_codec(projection),
    )


def transaction_index(store: EventStore, config: Config) -> TransactionIndexRunner:
    """The transaction index's runner; every store ``open_store`` opens keeps the index."""
    if not isinstance(store, TransactionIndexStore):
        raise TypeError(f"the store {store!r} keeps no transaction index")
    return TransactionIndexRunner(store, store, position_every=config.state.checkpoint_every)


async def checkpoint_state(store: EventStore, config: Config) -> int:
    """Fold the log into the live projection and the transaction index and save both now; the
    position reached.

    ``chargeward events import`` ends with this, so the first ``serve`` on an imported log starts
    from the checkpoint instead of folding the whole log before its port opens.
    """
    live = live_runner(store, config)
    transactions = transaction_index(store, config)
    head = await store.head()
    async with trio.open_nursery() as nursery:
        await nursery.start(live.run)
        await nursery.start(transactions.run)
        await live.wait_for(head)
        await transactions.wait_for(head)
        nursery.cancel_scope.cancel()  # both runners save their position on the way out
    return live.position


def _ignore(_: Any) -> None:
    """What a service without a start-up value reports: nothing to keep."""
