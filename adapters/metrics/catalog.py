"""Every metric chargeward exports: name, type, labels, help and the bound on its label values.

One table serves the collector (help texts), the tests (the dashboard and the alert rules may only
name metrics listed here) and the operator docs (:func:`markdown` renders the README section), so
the three cannot drift apart. Names follow Prometheus conventions: base units, ``_total`` on
counters (the family is declared without it, as prometheus_client expects).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str  # as exposed; counters end in _total
    kind: str  # counter | gauge | histogram
    labels: tuple[str, ...]
    help: str
    cardinality: str  # what bounds the number of series

    @property
    def family(self) -> str:
        """The name prometheus_client wants for the family (counters without ``_total``)."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name


PER_STATION = "stations x connectors (fleet size); off with `[metrics] per_connector = false`"

SPECS: tuple[MetricSpec, ...] = (
    # fleet and live state
    MetricSpec("chargeward_stations_known", "gauge", (), "Stations present in the event log.", "1"),
    MetricSpec("chargeward_stations_connected", "gauge", (), "Stations with an open connection.", "1"),
    MetricSpec(
        "chargeward_station_connected",
        "gauge",
        ("station",),
        "1 while the station has an open connection, else 0.",
        "stations (fleet size); off with `[metrics] per_connector = false`",
    ),
    MetricSpec(
        "chargeward_reconciliation_stations",
        "gauge",
        ("state",),
        "Stations by their last reconciliation after a boot (running, done, failed; none: never ran).",
        "4",
    ),
    MetricSpec(
        "chargeward_reconciliation_state",
        "gauge",
        ("station", "state"),
        "1 for the state of the station's last reconciliation (stations that had one).",
        "stations (fleet size); off with `[metrics] per_connector = false`",
    ),
    MetricSpec(
        "chargeward_connectors",
        "gauge",
        ("status",),
        "Connectors by current status (unknown: none reported yet).",
        "11 (the 9 OCPP 1.6 statuses, 2.0.1's Occupied, unknown)",
    ),
    MetricSpec(
        "chargeward_connector_status",
        "gauge",
        ("station", "connector", "status"),
        "1 for the connector's current status (only that status is exposed).",
        PER_STATION,
    ),
    MetricSpec(
        "chargeward_connector_power_watts",
        "gauge",
        ("station", "connector"),
        "Last sampled active import power (connectors that reported one).",
        PER_STATION,
    ),
    MetricSpec(
        "chargeward_connector_energy_watt_hours",
        "gauge",
        ("station", "connector"),
        "Last active import energy register reading (connectors that reported one).",
        PER_STATION,
    ),
    MetricSpec(
        "chargeward_power_watts", "gauge", (), "Sum of the last sampled power of all connectors.", "1"
    ),
    MetricSpec("chargeward_transactions_active", "gauge", (), "Transactions started and not stopped.", "1"),
    # OCPP traffic
    MetricSpec(
        "chargeward_ocpp_frames_in_total",
        "counter",
        ("action", "outcome"),
        "Station-initiated calls answered, by action and outcome (result or error); "
        "action=invalid for frames that were not a valid call.",
        "OCPP 1.6 and 2.0.1 actions (~100, others as `other`) x 2",
    ),
    MetricSpec(
        "chargeward_ocpp_frames_out_total",
        "counter",
        ("action",),
        "CSMS-initiated calls sent to stations, by action.",
        "OCPP 1.6 actions (~40)",
    ),
    MetricSpec(
        "chargeward_ocpp_command_outcomes_total",
        "counter",
        ("action", "outcome"),
        "CSMS-initiated calls by how they ended: result, error, invalid, malformed, timeout.",
        "OCPP 1.6 actions x 5",
    ),
    MetricSpec(
        "chargeward_ocpp_call_errors_total",
        "counter",
        ("code",),
        "CALLERRORs sent to stations, by OCPP error code.",
        "the OCPP error codes (~10)",
    ),
    MetricSpec(
        "chargeward_ocpp_repairs_total",
        "counter",
        ("vendor", "field"),
        "Schema repairs applied to station frames in lenient mode, by vendor and field path "
        "(array indices folded to []).",
        "first `max_vendors` vendors (default 20, later ones as `other`) x schema fields, "
        "at most `max_repair_series` (default 200) series",
    ),
    MetricSpec(
        "chargeward_ocpp_late_replies_total", "counter", (), "Replies that came after their timeout.", "1"
    ),
    MetricSpec(
        "chargeward_ocpp_repeated_calls_total", "counter", (), "Calls a station sent again (same id).", "1"
    ),
    MetricSpec("chargeward_ocpp_stale_frames_total", "counter", (), "Frames from replaced connections.", "1"),
    MetricSpec(
        "chargeward_ocpp_latency_seconds",
        "histogram",
        ("action", "direction"),
        "direction=csms: round trip of a CSMS-initiated call (sent to reply received); "
        "direction=station: server-side handling of a station-initiated call (received to reply sent).",
        "OCPP 1.6 actions x 2 directions, 14 buckets each",
    ),
    MetricSpec("chargeward_outbox_commands", "gauge", (), "Commands queued in all station outboxes.", "1"),
    MetricSpec("chargeward_outbox_commands_max", "gauge", (), "Commands queued in the fullest outbox.", "1"),
    # actor runtime
    MetricSpec("chargeward_actors", "gauge", ("kind",), "Live actors by kind.", "actor kinds (~5)"),
    MetricSpec(
        "chargeward_mailbox_depth",
        "gauge",
        ("kind",),
        "Messages queued in all mailboxes of a kind.",
        "actor kinds",
    ),
    MetricSpec(
        "chargeward_mailbox_depth_max",
        "gauge",
        ("kind",),
        "Messages queued in the fullest mailbox.",
        "actor kinds",
    ),
    MetricSpec(
        "chargeward_actor_restarts_total", "counter", ("kind",), "Actor restarts by kind.", "actor kinds"
    ),
    MetricSpec(
        "chargeward_actor_escalations_total",
        "counter",
        ("supervisor",),
        "Restart intensity exceeded: the supervisor gave up and escalated to its parent.",
        "supervisors (~2)",
    ),
    MetricSpec(
        "chargeward_station_failures_total",
        "counter",
        (),
        "Stations stopped because their own supervisor gave up (each also logs StationFailed).",
        "1",
    ),
    MetricSpec(
        "chargeward_dead_letters_total",
        "counter",
        ("kind", "reason"),
        "Messages that reached no actor, by actor kind and reason.",
        "actor kinds x 4 reasons",
    ),
    MetricSpec(
        "chargeward_station_connections_refused_total",
        "counter",
        ("reason",),
        "WebSocket upgrades refused by the station security rules, by reason (each but rate_limited "
        "also logs ConnectionRefused in security/<station id>).",
        "~10 reasons (adapters.station_gate)",
    ),
    # event store and projections
    MetricSpec("chargeward_store_commits_total", "counter", (), "Group commits of the batching writer.", "1"),
    MetricSpec("chargeward_store_events_total", "counter", (), "Events committed.", "1"),
    MetricSpec("chargeward_store_last_batch_size", "gauge", (), "Events in the latest commit.", "1"),
    MetricSpec(
        "chargeward_store_conflicts_total", "counter", (), "Appends refused for a version conflict.", "1"
    ),
    MetricSpec(
        "chargeward_store_failed_commits_total", "counter", (), "Commits that failed (nothing stored).", "1"
    ),
    MetricSpec(
        "chargeward_store_commit_seconds",
        "histogram",
        (),
        "Wall time of each successful commit (off the trio thread).",
        "1 (13 buckets)",
    ),
    MetricSpec("chargeward_store_batch_events", "histogram", (), "Events per commit.", "1 (10 buckets)"),
    MetricSpec("chargeward_store_head_position", "gauge", (), "Global position of the latest event.", "1"),
    MetricSpec(
        "chargeward_projection_position",
        "gauge",
        ("projection",),
        "Global position a projection has folded up to.",
        "projections (1: live)",
    ),
    MetricSpec(
        "chargeward_projection_checkpoint_position",
        "gauge",
        ("projection",),
        "Global position of the projection's last checkpoint (saved, or resumed from at start).",
        "projections (1: live)",
    ),
    MetricSpec(
        "chargeward_projection_lag_positions",
        "gauge",
        ("projection",),
        "Events committed but not yet folded into the projection (head - position).",
        "projections (1: live)",
    ),
)

DEVICES = "configured Modbus devices (bounded by the config)"

MODBUS_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "chargeward_modbus_device_stale",
        "gauge",
        ("device",),
        "1 while a Modbus device has missed stale_after polls in a row, else 0.",
        DEVICES,
    ),
    MetricSpec(
        "chargeward_modbus_polls_total", "counter", ("device",), "Polls (readings and failures).", DEVICES
    ),
    MetricSpec(
        "chargeward_modbus_errors_total",
        "counter",
        ("device", "kind"),
        "Failed polls and control steps by kind: exception, timeout, disconnected, invalid.",
        "devices x 4 kinds",
    ),
    MetricSpec(
        "chargeward_modbus_skipped_polls_total",
        "counter",
        ("device",),
        "Poll ticks lost because a poll overran its interval.",
        DEVICES,
    ),
    MetricSpec(
        "chargeward_modbus_poll_seconds",
        "histogram",
        (),
        "Time of one poll, queueing on a shared line included.",
        "1 (14 buckets)",
    ),
    MetricSpec(
        "chargeward_modbus_value",
        "gauge",
        ("device", "measurand", "phase", "unit"),
        "Last value read per measurand and phase (in the unit given).",
        "devices x profile points (~20 per SDM630); off with `[metrics] per_connector = false`",
    ),
    MetricSpec(
        "chargeward_modbus_last_reading_timestamp_seconds",
        "gauge",
        ("device",),
        "Unix time of the device's last successful reading.",
        DEVICES,
    ),
    MetricSpec(
        "chargeward_modbus_control_outcomes_total",
        "counter",
        ("device", "what", "outcome"),
        "EVSE controller writes by what (current, enabled) and outcome (verified, mismatched, failed).",
        "EVSE controllers x 2 x 3",
    ),
    MetricSpec(
        "chargeward_modbus_connector_dropped_total",
        "counter",
        ("device",),
        "Readings a full connector mailbox refused (the reading itself is in the log).",
        DEVICES,
    ),
    MetricSpec(
        "chargeward_modbus_line_events_total",
        "counter",
        ("line", "event"),
        "Per gateway or serial line: requests, timeouts, exception_responses, garbled, disconnects, "
        "connects, failed_connects.",
        "lines (bounded by the config) x 7",
    ),
)
SITES = "configured sites (bounded by the config)"

SITE_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "chargeward_site_load_amperes",
        "gauge",
        ("site", "phase"),
        "Current the site's grid meter read at the last round, per phase (absent while it is stale).",
        "sites x 3",
    ),
    MetricSpec(
        "chargeward_site_headroom_amperes",
        "gauge",
        ("site", "phase"),
        "Limit in force less the measured load, per phase (negative: over the limit).",
        "sites x 3",
    ),
    MetricSpec(
        "chargeward_site_limit_amperes",
        "gauge",
        ("site",),
        "The binding limit in force at the last round, in A per phase (W read on three phases).",
        SITES,
    ),
    MetricSpec(
        "chargeward_site_over_limit",
        "gauge",
        ("site",),
        "1 while the load measured at the last round was above the limit in force, else 0.",
        SITES,
    ),
    MetricSpec(
        "chargeward_site_over_limit_seconds_total",
        "counter",
        ("site",),
        "Time the measured load was above the limit in force (between rounds that found it so).",
        SITES,
    ),
    MetricSpec(
        "chargeward_site_failsafe",
        "gauge",
        ("site",),
        "1 while the site runs on failsafe currents (its grid meter is stale), else 0.",
        SITES,
    ),
    MetricSpec(
        "chargeward_site_rounds_total",
        "counter",
        ("site", "reason"),
        "Allocation rounds by reason: start, change, interval, slot (a plan's slot began).",
        "sites x 4",
    ),
    MetricSpec(
        "chargeward_site_plans_total",
        "counter",
        ("site", "outcome"),
        "Plans the optimizer made for charging needs, by outcome (planned, failed).",
        "sites x 2",
    ),
    MetricSpec(
        "chargeward_site_plan_unmet_watt_hours",
        "gauge",
        ("site",),
        "Energy the last round's plan cannot deliver by the vehicles' departures, Wh (0: no plan).",
        SITES,
    ),
    MetricSpec(
        "chargeward_site_profile_sends_total",
        "counter",
        ("site", "kind", "outcome"),
        "Limits sent to chargers by kind (allocation, failsafe) and outcome (accepted, failed).",
        "sites x 2 x 2",
    ),
    MetricSpec(
        "chargeward_site_allocation_amperes",
        "gauge",
        ("site", "station", "connector"),
        "Current each connector that wants power may draw now (after pacing), A per phase.",
        "connectors of sites; off with `[metrics] per_connector = false`",
    ),
)
SPECS = (*SPECS, *MODBUS_SPECS, *SITE_SPECS)
# Several nodes sharing a store (serve --node): each node's own figures, labelled with its name, so
# series scraped from every node can be summed or told apart.
NODE_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("chargeward_node_leases", "gauge", ("node",), "Stations whose lease this node holds.", "1"),
    MetricSpec(
        "chargeward_node_takeovers_total",
        "counter",
        ("node",),
        "Leases this node took from another node (released, expired, or its process gone).",
        "1",
    ),
    MetricSpec(
        "chargeward_node_leases_lost_total",
        "counter",
        ("node",),
        "Leases this node found taken by another node at a heartbeat (it was paused or cut off).",
        "1",
    ),
    MetricSpec(
        "chargeward_node_commands_forwarded_total",
        "counter",
        ("node",),
        "Commands this node's API sent to the node serving their station.",
        "1",
    ),
    MetricSpec(
        "chargeward_node_commands_served_total", "counter", ("node",), "Commands other nodes sent here.", "1"
    ),
    MetricSpec(
        "chargeward_node_heartbeat_failures_total",
        "counter",
        ("node",),
        "Heartbeats (lease renewals) that could not reach PostgreSQL.",
        "1",
    ),
    MetricSpec(
        "chargeward_node_orphans_closed_total",
        "counter",
        ("node",),
        "Stations this node marked disconnected because no live node served them any more.",
        "1",
    ),
)
SPECS = (*SPECS, *NODE_SPECS)

# A local controller's upstream links ([upstream]): present only when it is configured.
UPSTREAM_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "chargeward_upstream_links",
        "gauge",
        ("state",),
        "Upstream links by state (down, catching-up, live).",
        "3",
    ),
    MetricSpec(
        "chargeward_upstream_backlog_messages",
        "gauge",
        (),
        "Station calls in the log still to send upstream (heartbeats and statuses only as the latest), "
        "over all links.",
        "1",
    ),
    MetricSpec(
        "chargeward_upstream_backlog_age_seconds",
        "gauge",
        (),
        "Age of the oldest station call not yet sent upstream, over all links (0: none waits).",
        "1",
    ),
    MetricSpec(
        "chargeward_upstream_station_backlog_messages",
        "gauge",
        ("station",),
        "Station calls in the log not yet sent upstream, per station.",
        "stations (fleet size); off with `[metrics] per_connector = false`",
    ),
    MetricSpec(
        "chargeward_upstream_calls_total",
        "counter",
        ("answer",),
        "Station calls by who could answer them: live (forwarded as they came) or local (the local "
        "policy answered; the call waits in the log).",
        "2",
    ),
    MetricSpec(
        "chargeward_upstream_caught_up_total",
        "counter",
        (),
        "Station calls sent upstream from the log after an outage (its rate is the catch-up speed).",
        "1",
    ),
    MetricSpec(
        "chargeward_upstream_relayed_total", "counter", (), "Upstream commands relayed to stations.", "1"
    ),
    MetricSpec(
        "chargeward_upstream_link_flaps_total", "counter", (), "Open upstream links that were lost.", "1"
    ),
)
SPECS = (*SPECS, *UPSTREAM_SPECS)
UPSTREAM_BACKLOG_AGE = UPSTREAM_SPECS[2]  # the alert rules name it
MODBUS_DEVICE_STALE = MODBUS_SPECS[0]  # the alert rules name it
SITE_OVER_LIMIT = SITE_SPECS[3]  # the alert rules name it

BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in SPECS}


def markdown() -> str:
    """The metrics reference as a Markdown table, for the README."""
    rows = ["| metric | type | labels | cardinality | meaning |", "| --- | --- | --- | --- | --- |"]
    for spec in SPECS:
        labels = ", ".join(spec.labels) or "-"
        rows.append(f"| `{spec.name}` | {spec.kind} | {labels} | {spec.cardinality} | {spec.help} |")
    return "\n".join(rows)
