"""A copy of every number the exporter shows, taken on the trio thread.

The counters, the runtime's mailboxes and the live state are mutated by tasks on the trio thread
without locks; the exposition is rendered in a worker thread (rendering many labelled histograms
takes long enough to stall stations; see bench/results/README.md). So a scrape first copies what it
needs here, on the trio thread, into plain tuples, and the worker thread only ever reads the copy.

Label values are clamped to closed sets here (:func:`action_label`, :func:`status_label`, the
vendor and series caps of :func:`repair_series`), which is what keeps the cardinality documented in
``adapters.metrics.catalog`` true whatever the stations send.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import trio

from actors.charging import Unit
from actors.ocpp.versions import DIALECTS
from actors.ocpp_stats import OcppStats
from actors.site import SiteStats
from actors.sites import Site
from actors.upstream.link import UpstreamStats
from adapters.cluster import ClusterNode
from adapters.modbus_config import LineConfig, SerialLine
from adapters.modbus_fleet import ModbusDevices
from core.stats import DepthSummary, RuntimeStats
from core.writer import WriterStats
from projections.live import LiveState

ACTIONS = frozenset().union(*(d.actions.actions for d in DIALECTS.values())) | {"invalid"}
STATUSES = frozenset(
    {
        "Available",
        "Preparing",
        "Charging",
        "SuspendedEV",
        "SuspendedEVSE",
        "Finishing",
        "Reserved",
        "Unavailable",
        "Faulted",
        "Occupied",  # 2.0.1
    }
)
OTHER = "other"
_INDEX = re.compile(r"\[\d+\]")


def action_label(action: str) -> str:
    """The action as a label value: an OCPP 1.6 or 2.0.1 action name, ``invalid`` or ``other``."""
    return action if action in ACTIONS else OTHER


def status_label(status: str | None) -> str:
    if status is None:
        return "unknown"
    return status if status in STATUSES else OTHER


def printable(text: str) -> str:
    """``text`` as a label value UTF-8 can encode: a lone surrogate becomes its ``\\udXXX`` escape.

    Vendor names are what the station sent; one with a lone surrogate made every scrape fail.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def repair_series(
    repairs: Mapping[tuple[str, str], int], max_vendors: int, max_series: int
) -> dict[tuple[str, str], int]:
    """Repairs keyed by (vendor, field) with indices folded, vendors and series capped.

    Vendors keep their names in the order they were first seen (the counter's insertion order), so
    a series never changes its labels between scrapes; later vendors and overflow go to ``other``.
    """
    vendors: dict[str, None] = {}
    out: Counter[tuple[str, str]] = Counter()
    for (sent_vendor, path), n in repairs.items():
        vendor = printable(sent_vendor)
        if vendor not in vendors and len(vendors) < max_vendors:
            vendors[vendor] = None
        key = (vendor if vendor in vendors else OTHER, _INDEX.sub("[]", path))
        if key not in out and len(out) >= max_series:
            key = (OTHER, OTHER)
        out[key] += n
    return dict(out)


@dataclass(frozen=True, slots=True)
class ConnectorSample:
    station: str
    connector: str
    status: str
    power_w: float | None
    energy_wh: float | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape shows; built by :func:`take`, read by the collector in a worker thread."""

    stations_known: int
    stations_connected: int
    station_connected: tuple[tuple[str, bool], ...]  # empty when per-connector series are off
    connectors_by_status: dict[str, int]
    reconciliation_by_state: dict[str, int]
    station_reconciliation: tuple[tuple[str, str], ...]  # empty when per-connector series are off
    connectors: tuple[ConnectorSample, ...]  # empty when per-connector series are off
    power_w: float
    transactions_active: int
    frames_in: dict[tuple[str, str], int]
    frames_out: dict[str, int]
    command_outcomes: dict[tuple[str, str], int]
    call_errors: dict[str, int]
    repairs: dict[tuple[str, str], int]
    late_replies: int
    repeated_calls: int
    stale_frames: int
    station_failures: int
    outbox_total: int
    outbox_max: int
    depths: dict[str, DepthSummary]
    restarts: dict[str, int]
    escalations: dict[str, int]
    dead_letters: dict[tuple[str, str], int]
    connections_refused: dict[str, int]
    writer: WriterStats | None
    head: int
    live_position: int
    live_checkpoint: int
    modbus: ModbusSnapshot | None = None
    sites: tuple[SiteSample, ...] = ()
    node: NodeSnapshot | None = None
    upstream: UpstreamSnapshot | None = None


@dataclass(frozen=True, slots=True)
class UpstreamSnapshot:
    """A local controller's links at one scrape (``[upstream]``)."""

    states: dict[str, int]
    backlog: int
    oldest_age: float
    per_station: tuple[tuple[str, int], ...]  # empty when per-connector series are off
    live: int
    local: int
    caught_up: int
    relayed: int
    flaps: int


def upstream_snapshot(stats: UpstreamStats, now: datetime, per_station: bool) -> UpstreamSnapshot:
    states = {"down": 0, "catching-up": 0, "live": 0}
    backlog = 0
    oldest: datetime | None = None
    stations: list[tuple[str, int]] = []
    for station_id, link in sorted(stats.links.items()):
        status = link.status()
        states[status.state] = states.get(status.state, 0) + 1
        waiting = status.backlog or 0
        backlog += waiting
        if per_station:
            stations.append((station_id, waiting))
        if status.oldest is not None and (oldest is None or status.oldest < oldest):
            oldest = status.oldest
    return UpstreamSnapshot(
        states=states,
        backlog=backlog,
        oldest_age=max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0,
        per_station=tuple(stations),
        live=stats.forwarded,
        local=stats.local,
        caught_up=stats.caught_up,
        relayed=stats.relayed,
        flaps=stats.flaps,
    )


@dataclass(frozen=True, slots=True)
class SiteSample:
    """One site at a scrape, from its actor's :class:`~actors.site.SiteStats`."""

    site: str
    load: tuple[float | None, ...]
    limit: float | None  # the binding limit, A per phase
    over: bool
    over_seconds: float
    failsafe: bool
    rounds: dict[str, int]
    sends: dict[tuple[str, str], int]  # (kind, outcome)
    plans: dict[str, int]  # by outcome
    unmet: float  # Wh the last plan cannot deliver
    allocation: tuple[tuple[str, str, float], ...]  # (station, connector, A); empty when switched off


def site_sample(site: Site, stats: SiteStats, per_connector: bool) -> SiteSample:
    last = stats.last
    limit = None
    if last is not None and last.in_force.binding is not None:
        bound = last.in_force.binding
        limit = bound.value if bound.unit is Unit.A else bound.value / (3 * site.voltage)
    sends = {("allocation", k): n for k, n in stats.sends.items()}
    sends.update({("failsafe", k): n for k, n in stats.failsafe_sends.items()})
    allocation = tuple(
        (key.station, str(key.connector), amps) for key, amps in sorted(stats.in_force.items())
    )
    return SiteSample(
        site=site.id,
        load=stats.load,
        limit=limit,
        over=last is not None and last.over > 0,
        over_seconds=stats.seconds_over,
        failsafe=last is not None and last.failsafe,
        rounds=dict(stats.rounds),
        sends=sends,
        plans=dict(stats.plans),
        unmet=sum(c["unmet_wh"] for c in (stats.plan or {}).get("connectors", ())),
        allocation=allocation if per_connector else (),
    )


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """This node's lease and call counters (``serve --node``)."""

    name: str
    leases: int
    takeovers: int
    lost: int
    forwarded: int
    served: int
    heartbeat_failures: int
    orphans_closed: int


@dataclass(frozen=True, slots=True)
class ModbusSnapshot:
    """The Modbus counters at one scrape (device and line labels are bounded by the config)."""

    stale: dict[str, bool]
    polls: dict[str, int]
    errors: dict[tuple[str, str], int]
    skipped: dict[str, int]
    values: tuple[tuple[tuple[str, str, str, str], float], ...]  # empty when per-connector series are off
    last_reading_at: dict[str, float]
    controls: dict[tuple[str, str, str], int]
    connector_dropped: dict[str, int]
    lines: dict[tuple[str, str], int]


LINE_EVENTS = (
    "requests",
    "timeouts",
    "exception_responses",
    "garbled",
    "disconnects",
    "connects",
    "failed_connects",
)


def modbus_snapshot(devices: ModbusDevices, per_connector: bool) -> ModbusSnapshot:
    stats = devices.stats
    values = tuple(
        ((device, sample.measurand or sample.name, sample.phase or "", sample.unit), sample.value)
        for device, samples in stats.last_values.items()
        for sample in samples
    )
    lines = {
        (_line_label(config), event): getattr(line.stats, event)
        for config, line in devices.lines.items()
        for event in LINE_EVENTS
    }
    return ModbusSnapshot(
        stale=dict(stats.stale),
        polls=dict(stats.polls),
        errors=dict(stats.errors),
        skipped=dict(stats.skipped_polls),
        values=values if per_connector else (),
        last_reading_at=dict(stats.last_reading_at),
        controls=dict(stats.controls),
        connector_dropped=dict(stats.connector_dropped),
        lines=lines,
    )


def _line_label(config: LineConfig) -> str:
    return config.device if isinstance(config, SerialLine) else f"{config.host}:{config.port}"


def _by_action(counter: Mapping[str, int]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for action, n in counter.items():
        out[action_label(action)] += n
    return dict(out)


def _by_action_and(counter: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    out: Counter[tuple[str, str]] = Counter()
    for (action, other), n in counter.items():
        out[(action_label(action), other)] += n
    return dict(out)


@dataclass(frozen=True, slots=True)
class Sources:
    """Where a snapshot reads from (the parts of a ``Csms`` the exporter needs)."""

    ocpp: OcppStats
    runtime: RuntimeStats
    writer: WriterStats | None
    live: LiveState
    modbus: ModbusDevices | None = None
    node: ClusterNode | None = None
    refusals: Mapping[str, int] | None = None  # refused upgrades by reason (adapters.station_gate)
    sites: tuple[tuple[Site, SiteStats], ...] = ()
    upstream: UpstreamStats | None = None  # [upstream]: the local controller's links
    now: datetime | None = None  # wall-clock time, for the age of the upstream backlog


# Stations folded between two trio checkpoints: a few milliseconds of work (bench/results/README.md),
# so a 10k fleet never holds the loop for long.
CHUNK = 1000


async def take(
    sources: Sources,
    *,
    head: int,
    live_position: int,
    live_checkpoint: int = 0,
    per_connector: bool,
    max_vendors: int,
    max_repair_series: int,
) -> Snapshot:
    """Copy everything a scrape shows, yielding to trio every :data:`CHUNK` stations.

    Each station is read whole between two checkpoints, so its own series agree with each other;
    stations read in different chunks may be a few events apart, as in any scrape of moving state.
    The counters are copied after the last checkpoint, in one go.
    """
    live = sources.live
    stations = list(live.stations.values())
    by_status: Counter[str] = Counter()
    connectors: list[ConnectorSample] = []
    connected: list[tuple[str, bool]] = []
    by_reconciliation: Counter[str] = Counter()
    reconciled: list[tuple[str, str]] = []
    connected_count = 0
    power = 0.0
    for start in range(0, len(stations), CHUNK):
        if start:
            await trio.lowlevel.checkpoint()
        for station in stations[start : start + CHUNK]:
            connected_count += station.connected
            if per_connector:
                connected.append((station.station_id, station.connected))
            run = station.reconciliation
            by_reconciliation["none" if run is None else str(run["state"])] += 1
            if per_connector and run is not None:
                reconciled.append((station.station_id, str(run["state"])))
            for number, view in station.connectors.items():
                status = status_label(view.status)
                by_status[status] += 1
                power += view.power_w or 0.0
                if per_connector:
                    connectors.append(
                        ConnectorSample(station.station_id, str(number), status, view.power_w, view.energy_wh)
                    )
    transactions = list(live.transactions.values())
    active = 0
    for start in range(0, len(transactions), CHUNK * 10):
        await trio.lowlevel.checkpoint()
        active += sum(1 for tx in transactions[start : start + CHUNK * 10] if tx.active)
    ocpp = sources.ocpp
    outboxes = [len(box) for box in ocpp.outboxes.values()]
    writer = sources.writer
    return Snapshot(
        stations_known=len(stations),
        stations_connected=connected_count,
        station_connected=tuple(connected),
        connectors_by_status=dict(by_status),
        reconciliation_by_state=dict(by_reconciliation),
        station_reconciliation=tuple(reconciled),
        connectors=tuple(connectors),
        power_w=power,
        transactions_active=active,
        frames_in=_by_action_and(ocpp.frames_in),
        frames_out=_by_action(ocpp.frames_out),
        command_outcomes=_by_action_and(ocpp.command_outcomes),
        call_errors=dict(ocpp.call_errors),
        repairs=repair_series(ocpp.repairs, max_vendors, max_repair_series),
        late_replies=ocpp.late_replies,
        repeated_calls=ocpp.repeated_calls,
        stale_frames=ocpp.stale_frames,
        station_failures=ocpp.station_failures,
        outbox_total=sum(outboxes),
        outbox_max=max(outboxes, default=0),
        depths=sources.runtime.mailbox_depths(),
        restarts=dict(sources.runtime.restarts),
        escalations=dict(sources.runtime.escalations),
        dead_letters=sources.runtime.dead_letters_by_kind(),
        connections_refused=dict(sources.refusals or {}),
        writer=None if writer is None else replace(writer),
        head=head,
        live_position=live_position,
        live_checkpoint=live_checkpoint,
        modbus=None if sources.modbus is None else modbus_snapshot(sources.modbus, per_connector),
        sites=tuple(site_sample(site, stats, per_connector) for site, stats in sources.sites),
        node=None if sources.node is None else _node_snapshot(sources.node),
        upstream=None
        if sources.upstream is None
        else upstream_snapshot(sources.upstream, sources.now or datetime.now(UTC), per_connector),
    )


def _node_snapshot(node: ClusterNode) -> NodeSnapshot:
    stats = node.stats
    return NodeSnapshot(
        node.node,
        len(node.held),
        stats.takeovers,
        stats.lost,
        stats.forwarded,
        stats.served,
        stats.heartbeat_failures,
        stats.orphans_closed,
    )
