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
        "chargeward_connectors",
        "gauge",
        ("status",),
        "Connectors by current status (unknown: none reported yet).",
        "10 (the 9 OCPP 1.6 statuses + unknown)",
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
        "OCPP 1.6 actions (~40, others as `other`) x 2",
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
        "chargeward_dead_letters_total",
        "counter",
        ("kind", "reason"),
        "Messages that reached no actor, by actor kind and reason.",
        "actor kinds x 4 reasons",
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
        "chargeward_projection_lag_positions",
        "gauge",
        ("projection",),
        "Events committed but not yet folded into the projection (head - position).",
        "projections (1: live)",
    ),
)

# Defined here so the alert rules can name it; the Modbus device actors export it (issue 5).
MODBUS_DEVICE_STALE = MetricSpec(
    "chargeward_modbus_device_stale",
    "gauge",
    ("device",),
    "1 while a Modbus device has not answered a poll within its staleness window (issue 5; not "
    "exported yet).",
    "configured Modbus devices",
)

BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in (*SPECS, MODBUS_DEVICE_STALE)}


def markdown() -> str:
    """The metrics reference as a Markdown table, for the README."""
    rows = ["| metric | type | labels | cardinality | meaning |", "| --- | --- | --- | --- | --- |"]
    for spec in (*SPECS, MODBUS_DEVICE_STALE):
        labels = ", ".join(spec.labels) or "-"
        rows.append(f"| `{spec.name}` | {spec.kind} | {labels} | {spec.cardinality} | {spec.help} |")
    return "\n".join(rows)
