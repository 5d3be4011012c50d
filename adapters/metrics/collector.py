"""The custom collector: turns the latest :class:`~adapters.metrics.snapshot.Snapshot` into families.

It runs inside ``generate_latest`` in a worker thread and reads only the snapshot, never the live
objects. Help texts and label names come from the catalog, so what is exposed is what is
documented.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from adapters.metrics.catalog import BY_NAME, SPECS
from adapters.metrics.snapshot import ModbusSnapshot, NodeSnapshot, SiteSample, Snapshot, UpstreamSnapshot

Family = CounterMetricFamily | GaugeMetricFamily

# Everything but the histograms, which are real prometheus_client Histograms fed by observers.
_NAMES = tuple(spec.name for spec in SPECS if spec.kind != "histogram")


def family(name: str) -> Family:
    """An empty family for the catalogued metric ``name``."""
    spec = BY_NAME[name]
    if spec.kind == "counter":
        return CounterMetricFamily(spec.family, spec.help, labels=spec.labels)
    return GaugeMetricFamily(spec.family, spec.help, labels=spec.labels)


def scalar(name: str, value: float) -> Family:
    metric = family(name)
    metric.add_metric([], value)
    return metric


def labelled(name: str, values: Iterable[tuple[tuple[str, ...], float]]) -> Family:
    metric = family(name)
    for labels, value in values:
        metric.add_metric(list(labels), value)
    return metric


class SnapshotCollector:
    """Registered on a Csms's own registry; :attr:`snapshot` is set before each render."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def describe(self) -> Iterator[Metric]:
        # Names only, for the registry's duplicate check; no samples are read here.
        yield from (family(name) for name in _NAMES)

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        if s is None:
            return
        yield scalar("chargeward_stations_known", s.stations_known)
        yield scalar("chargeward_stations_connected", s.stations_connected)
        yield labelled(
            "chargeward_station_connected", (((sid,), float(up)) for sid, up in s.station_connected)
        )
        yield labelled(
            "chargeward_reconciliation_stations",
            (((k,), n) for k, n in sorted(s.reconciliation_by_state.items())),
        )
        yield labelled(
            "chargeward_reconciliation_state",
            (((sid, state), 1.0) for sid, state in s.station_reconciliation),
        )
        yield labelled(
            "chargeward_connectors", (((k,), n) for k, n in sorted(s.connectors_by_status.items()))
        )
        yield labelled(
            "chargeward_connector_status", (((c.station, c.connector, c.status), 1.0) for c in s.connectors)
        )
        yield labelled(
            "chargeward_connector_power_watts",
            (((c.station, c.connector), c.power_w) for c in s.connectors if c.power_w is not None),
        )
        yield labelled(
            "chargeward_connector_energy_watt_hours",
            (((c.station, c.connector), c.energy_wh) for c in s.connectors if c.energy_wh is not None),
        )
        yield scalar("chargeward_power_watts", s.power_w)
        yield scalar("chargeward_transactions_active", s.transactions_active)
        yield labelled("chargeward_ocpp_frames_in_total", s.frames_in.items())
        yield labelled("chargeward_ocpp_frames_out_total", (((a,), n) for a, n in s.frames_out.items()))
        yield labelled("chargeward_ocpp_command_outcomes_total", s.command_outcomes.items())
        yield labelled("chargeward_ocpp_call_errors_total", (((c,), n) for c, n in s.call_errors.items()))
        yield labelled("chargeward_ocpp_repairs_total", s.repairs.items())
        yield scalar("chargeward_ocpp_late_replies_total", s.late_replies)
        yield scalar("chargeward_ocpp_repeated_calls_total", s.repeated_calls)
        yield scalar("chargeward_ocpp_stale_frames_total", s.stale_frames)
        yield scalar("chargeward_outbox_commands", s.outbox_total)
        yield scalar("chargeward_outbox_commands_max", s.outbox_max)
        depths = sorted(s.depths.items())
        yield labelled("chargeward_actors", (((k,), d.actors) for k, d in depths))
        yield labelled("chargeward_mailbox_depth", (((k,), d.total) for k, d in depths))
        yield labelled("chargeward_mailbox_depth_max", (((k,), d.deepest) for k, d in depths))
        yield labelled("chargeward_actor_restarts_total", (((k,), n) for k, n in s.restarts.items()))
        yield labelled("chargeward_actor_escalations_total", (((k,), n) for k, n in s.escalations.items()))
        yield scalar("chargeward_station_failures_total", s.station_failures)
        yield labelled("chargeward_dead_letters_total", s.dead_letters.items())
        yield labelled(
            "chargeward_station_connections_refused_total",
            (((k,), n) for k, n in sorted(s.connections_refused.items())),
        )
        if s.writer is not None:
            yield scalar("chargeward_store_commits_total", s.writer.batches)
            yield scalar("chargeward_store_events_total", s.writer.events)
            yield scalar("chargeward_store_last_batch_size", s.writer.last_batch_size)
            yield scalar("chargeward_store_conflicts_total", s.writer.conflicts)
            yield scalar("chargeward_store_failed_commits_total", s.writer.failed_commits)
        yield scalar("chargeward_store_head_position", s.head)
        yield labelled("chargeward_projection_position", [(("live",), s.live_position)])
        yield labelled("chargeward_projection_checkpoint_position", [(("live",), s.live_checkpoint)])
        yield labelled("chargeward_projection_lag_positions", [(("live",), max(0, s.head - s.live_position))])
        if s.modbus is not None:
            yield from _modbus(s.modbus)
        if s.sites:
            yield from _sites(s.sites)
        if s.node is not None:
            yield from _node(s.node)
        if s.upstream is not None:
            yield from _upstream(s.upstream)


def _upstream(u: UpstreamSnapshot) -> Iterator[Metric]:
    yield labelled("chargeward_upstream_links", (((k,), n) for k, n in sorted(u.states.items())))
    yield scalar("chargeward_upstream_backlog_messages", u.backlog)
    yield scalar("chargeward_upstream_backlog_age_seconds", u.oldest_age)
    yield labelled("chargeward_upstream_station_backlog_messages", (((sid,), n) for sid, n in u.per_station))
    yield labelled("chargeward_upstream_calls_total", [(("live",), u.live), (("local",), u.local)])
    yield scalar("chargeward_upstream_caught_up_total", u.caught_up)
    yield scalar("chargeward_upstream_relayed_total", u.relayed)
    yield scalar("chargeward_upstream_link_flaps_total", u.flaps)


def _sites(sites: tuple[SiteSample, ...]) -> Iterator[Metric]:
    phases = ("L1", "L2", "L3")
    yield labelled(
        "chargeward_site_load_amperes",
        (((x.site, p), a) for x in sites for p, a in zip(phases, x.load, strict=True) if a is not None),
    )
    yield labelled(
        "chargeward_site_headroom_amperes",
        (
            ((x.site, p), x.limit - a)
            for x in sites
            for p, a in zip(phases, x.load, strict=True)
            if a is not None and x.limit is not None
        ),
    )
    limits = (((x.site,), x.limit) for x in sites if x.limit is not None)
    yield labelled("chargeward_site_limit_amperes", limits)
    yield labelled("chargeward_site_over_limit", (((x.site,), float(x.over)) for x in sites))
    yield labelled("chargeward_site_over_limit_seconds_total", (((x.site,), x.over_seconds) for x in sites))
    yield labelled("chargeward_site_failsafe", (((x.site,), float(x.failsafe)) for x in sites))
    yield labelled(
        "chargeward_site_rounds_total", (((x.site, r), n) for x in sites for r, n in sorted(x.rounds.items()))
    )
    yield labelled(
        "chargeward_site_plans_total", (((x.site, o), n) for x in sites for o, n in sorted(x.plans.items()))
    )
    yield labelled("chargeward_site_plan_unmet_watt_hours", (((x.site,), x.unmet) for x in sites))
    yield labelled(
        "chargeward_site_profile_sends_total",
        (((x.site, k, o), n) for x in sites for (k, o), n in sorted(x.sends.items())),
    )
    yield labelled(
        "chargeward_site_allocation_amperes",
        (((x.site, station, c), a) for x in sites for station, c, a in x.allocation),
    )


def _node(n: NodeSnapshot) -> Iterator[Metric]:
    label = (n.name,)
    yield labelled("chargeward_node_leases", [(label, n.leases)])
    yield labelled("chargeward_node_takeovers_total", [(label, n.takeovers)])
    yield labelled("chargeward_node_leases_lost_total", [(label, n.lost)])
    yield labelled("chargeward_node_commands_forwarded_total", [(label, n.forwarded)])
    yield labelled("chargeward_node_commands_served_total", [(label, n.served)])
    yield labelled("chargeward_node_heartbeat_failures_total", [(label, n.heartbeat_failures)])
    yield labelled("chargeward_node_orphans_closed_total", [(label, n.orphans_closed)])


def _modbus(m: ModbusSnapshot) -> Iterator[Metric]:
    yield labelled("chargeward_modbus_device_stale", (((d,), float(up)) for d, up in sorted(m.stale.items())))
    yield labelled("chargeward_modbus_polls_total", (((d,), n) for d, n in m.polls.items()))
    yield labelled("chargeward_modbus_errors_total", m.errors.items())
    yield labelled("chargeward_modbus_skipped_polls_total", (((d,), n) for d, n in m.skipped.items()))
    yield labelled("chargeward_modbus_value", m.values)
    yield labelled(
        "chargeward_modbus_last_reading_timestamp_seconds", (((d,), t) for d, t in m.last_reading_at.items())
    )
    yield labelled("chargeward_modbus_control_outcomes_total", m.controls.items())
    yield labelled(
        "chargeward_modbus_connector_dropped_total", (((d,), n) for d, n in m.connector_dropped.items())
    )
    yield labelled("chargeward_modbus_line_events_total", m.lines.items())
