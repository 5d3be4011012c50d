"""Prometheus metrics of a running Csms: ``await render_metrics(csms)`` -> (body, content type).

Each Csms gets its own ``CollectorRegistry`` (never the global one), holding a custom collector that
reads the counters on scrape (``RuntimeStats``, ``OcppStats``, ``WriterStats``, ``ModbusStats``, the
live state, store head vs projection position) and real histograms fed by observer hooks (OCPP
latency, commit latency and batch size, Modbus poll time). A scrape copies the numbers on the trio
thread, then renders off it with ``generate_latest`` in a worker thread. Call :func:`attach_metrics`
right after ``open_csms`` so the histograms see everything from the start; ``[metrics]`` in the config
file gives its options (:func:`parse_metrics_options`).

Metrics, labels and what bounds their cardinality (``catalog.SPECS`` is the source of truth; the
tests check this list against it):

- ``chargeward_stations_known`` (gauge): 1
- ``chargeward_stations_connected`` (gauge): 1
- ``chargeward_station_connected{station}`` (gauge): fleet size; off with ``per_connector = false``
- ``chargeward_reconciliation_stations{state}`` (gauge): running, done, failed, none
- ``chargeward_reconciliation_state{station,state}`` (gauge, 1 for the last run's state): fleet size;
  off with ``per_connector = false``
- ``chargeward_connectors{status}`` (gauge): 9 OCPP 1.6 statuses + unknown (+ other)
- ``chargeward_connector_status{station,connector,status}`` (gauge, 1 for the current status only):
  stations x connectors; off with ``per_connector = false``
- ``chargeward_connector_power_watts{station,connector}`` (gauge): stations x connectors; switchable
- ``chargeward_connector_energy_watt_hours{station,connector}`` (gauge): stations x connectors;
  switchable
- ``chargeward_power_watts``, ``chargeward_transactions_active`` (gauges): 1
- ``chargeward_ocpp_frames_in_total{action,outcome}`` (counter): OCPP 1.6 actions (+ invalid, other) x
  result/error
- ``chargeward_ocpp_frames_out_total{action}`` (counter): OCPP 1.6 CSMS-initiated actions
- ``chargeward_ocpp_command_outcomes_total{action,outcome}`` (counter): actions x result, error,
  invalid, malformed, timeout
- ``chargeward_ocpp_call_errors_total{code}`` (counter): the ~10 OCPP error codes
- ``chargeward_ocpp_repairs_total{vendor,field}`` (counter): first ``max_vendors`` vendors (20; later
  ones as ``other``) x schema field paths (indices folded to ``[]``), at most ``max_repair_series``
  (200) series
- ``chargeward_ocpp_late_replies_total``, ``chargeward_ocpp_repeated_calls_total``,
  ``chargeward_ocpp_stale_frames_total`` (counters): 1
- ``chargeward_ocpp_latency_seconds{action,direction}`` (histogram, 14 buckets): actions x
  ``csms`` (round trip of a CSMS-initiated call) / ``station`` (handling of a station-initiated call,
  frame received to reply sent)
- ``chargeward_outbox_commands``, ``chargeward_outbox_commands_max`` (gauges): 1
- ``chargeward_actors{kind}``, ``chargeward_mailbox_depth{kind}``, ``chargeward_mailbox_depth_max{kind}``
  (gauges), ``chargeward_actor_restarts_total{kind}`` (counter): actor kinds (~5)
- ``chargeward_actor_escalations_total{supervisor}`` (counter): supervisors
- ``chargeward_station_failures_total`` (counter): 1 (stations whose own supervisor gave up)
- ``chargeward_dead_letters_total{kind,reason}`` (counter): actor kinds x 4 reasons
- ``chargeward_station_connections_refused_total{reason}`` (counter): ~10 reasons (adapters.station_gate)
- ``chargeward_store_commits_total``, ``chargeward_store_events_total``,
  ``chargeward_store_conflicts_total``, ``chargeward_store_failed_commits_total`` (counters),
  ``chargeward_store_last_batch_size``, ``chargeward_store_head_position`` (gauges): 1
- ``chargeward_store_commit_seconds`` (histogram, 13 buckets), ``chargeward_store_batch_events``
  (histogram, 10 buckets): 1
- ``chargeward_projection_position{projection}``, ``chargeward_projection_lag_positions{projection}``,
  ``chargeward_projection_checkpoint_position{projection}`` (gauges): projections (1: live)
- ``chargeward_modbus_device_stale{device}``, ``chargeward_modbus_last_reading_timestamp_seconds{device}``
  (gauges), ``chargeward_modbus_polls_total{device}``, ``chargeward_modbus_skipped_polls_total{device}``,
  ``chargeward_modbus_connector_dropped_total{device}`` (counters): configured Modbus devices
- ``chargeward_modbus_errors_total{device,kind}`` (counter): devices x exception, timeout,
  disconnected, invalid
- ``chargeward_modbus_value{device,measurand,phase,unit}`` (gauge): devices x profile points;
  off with ``per_connector = false``
- ``chargeward_modbus_control_outcomes_total{device,what,outcome}`` (counter): EVSE controllers x
  current/enabled x verified/mismatched/failed
- ``chargeward_modbus_line_events_total{line,event}`` (counter): configured lines x 7 events
- ``chargeward_modbus_poll_seconds`` (histogram, 14 buckets, no device label): 1
- ``chargeward_site_load_amperes{site,phase}``, ``chargeward_site_headroom_amperes{site,phase}`` (gauges):
  sites x 3; ``chargeward_site_limit_amperes{site}``, ``chargeward_site_over_limit{site}``,
  ``chargeward_site_failsafe{site}`` (gauges), ``chargeward_site_over_limit_seconds_total{site}``
  (counter): configured sites
- ``chargeward_site_rounds_total{site,reason}`` (counter): sites x 4 reasons;
  ``chargeward_site_plans_total{site,outcome}`` (counter): sites x 2;
  ``chargeward_site_plan_unmet_watt_hours{site}`` (gauge): configured sites;
  ``chargeward_site_profile_sends_total{site,kind,outcome}`` (counter): sites x 2 x 2
- ``chargeward_site_allocation_amperes{site,station,connector}`` (gauge): connectors of sites; off with
  ``per_connector = false``
- with ``serve --node NAME`` only, one series each labelled with the node's name:
  ``chargeward_node_leases{node}`` (gauge), ``chargeward_node_takeovers_total{node}``,
  ``chargeward_node_leases_lost_total{node}``, ``chargeward_node_commands_forwarded_total{node}``,
  ``chargeward_node_commands_served_total{node}``, ``chargeward_node_heartbeat_failures_total{node}``,
  ``chargeward_node_orphans_closed_total{node}`` (counters): 1 per node
- with ``[upstream]`` only (a local controller): ``chargeward_upstream_links{state}`` (gauge): 3;
  ``chargeward_upstream_backlog_messages``, ``chargeward_upstream_backlog_age_seconds`` (gauges),
  ``chargeward_upstream_caught_up_total``, ``chargeward_upstream_relayed_total``,
  ``chargeward_upstream_link_flaps_total`` (counters): 1; ``chargeward_upstream_calls_total{answer}``
  (counter): 2; ``chargeward_upstream_station_backlog_messages{station}`` (gauge): stations; off with
  ``per_connector = false``
"""

from adapters.metrics.catalog import MODBUS_DEVICE_STALE, SPECS, MetricSpec, markdown
from adapters.metrics.exporter import (
    CONTENT_TYPE,
    CsmsMetrics,
    MetricsOptions,
    attach_metrics,
    parse_metrics_options,
    render_metrics,
)

__all__ = [
    "CONTENT_TYPE",
    "MODBUS_DEVICE_STALE",
    "SPECS",
    "CsmsMetrics",
    "MetricSpec",
    "MetricsOptions",
    "attach_metrics",
    "markdown",
    "parse_metrics_options",
    "render_metrics",
]
