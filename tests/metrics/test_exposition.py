"""render_metrics over a running Csms with the ``ocpp`` package's ChargePoint as a real station."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import trio
import trio_websocket

from actors.commands import Command
from adapters.csms import Csms, open_csms
from adapters.metrics import CONTENT_TYPE, SPECS, MetricsOptions, attach_metrics, render_metrics
from adapters.metrics.catalog import MODBUS_SPECS, NODE_SPECS, SITE_SPECS, UPSTREAM_SPECS
from tests.integration.conftest import live, make_config, url_of
from tests.integration.peer import peer_station
from tests.metrics.scrape import family_of, names, parse, value
from tests.shared_fixtures import CHARGEDOT_SESSION

NOW = "2026-11-21T10:00:00Z"


async def charging_session(csms: Csms, station_id: str) -> None:
    """Boot, plug in, start, sample 7.2 kW / 2.5 kWh, and one command answered by the station."""
    async with peer_station(url_of(csms), station_id) as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="W22")
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Preparing")
        started = await peer.call(
            "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=1000, timestamp=NOW
        )
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Charging")
        await peer.call("StatusNotification", connector_id=2, error_code="GroundFailure", status="Faulted")
        sampled = [
            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
            {"value": "2.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
        ]
        await peer.call(
            "MeterValues",
            connector_id=1,
            transaction_id=started["transaction_id"],
            meter_value=[{"timestamp": NOW, "sampledValue": sampled}],
        )
        await csms.station(station_id).call(Command("ClearCache", {}))
        await live(csms)
        body, content_type = await render_metrics(csms)
    assert content_type == CONTENT_TYPE
    s = parse(body)
    station = {"station": station_id}
    assert value(s, "chargeward_stations_connected") == 1
    assert value(s, "chargeward_stations_known") == 1
    assert value(s, "chargeward_station_connected", **station) == 1
    assert value(s, "chargeward_connector_status", **station, connector="1", status="Charging") == 1
    assert value(s, "chargeward_connector_status", **station, connector="2", status="Faulted") == 1
    statuses = [k for k in s if k[0] == "chargeward_connector_status"]
    assert len(statuses) == 2, "only the current status of each connector is exposed"
    assert value(s, "chargeward_connectors", status="Charging") == 1
    assert value(s, "chargeward_connector_power_watts", **station, connector="1") == 7200
    assert value(s, "chargeward_connector_energy_watt_hours", **station, connector="1") == 2500
    assert value(s, "chargeward_power_watts") == 7200
    assert value(s, "chargeward_transactions_active") == 1
    assert value(s, "chargeward_ocpp_frames_in_total", action="BootNotification", outcome="result") == 1
    assert value(s, "chargeward_ocpp_frames_in_total", action="StatusNotification", outcome="result") == 3
    assert value(s, "chargeward_ocpp_frames_out_total", action="ClearCache") == 1
    assert value(s, "chargeward_ocpp_command_outcomes_total", action="ClearCache", outcome="result") == 1
    csms_rt = value(s, "chargeward_ocpp_latency_seconds_count", action="ClearCache", direction="csms")
    handled = value(
        s, "chargeward_ocpp_latency_seconds_count", action="StatusNotification", direction="station"
    )
    assert (csms_rt, handled) == (1, 3)
    assert value(s, "chargeward_ocpp_latency_seconds_sum", action="ClearCache", direction="csms") > 0
    assert value(s, "chargeward_actors", kind="station") == 1
    on_demand = ("chargeward_actors", frozenset({("kind", "connector")}))
    assert on_demand not in s, "connector actors start on demand, not for every reported connector"
    commits = value(s, "chargeward_store_commits_total")
    assert value(s, "chargeward_store_commit_seconds_count") == commits > 0
    assert value(s, "chargeward_store_batch_events_sum") == value(s, "chargeward_store_events_total")
    head = value(s, "chargeward_store_head_position")
    position = value(s, "chargeward_projection_position", projection="live")
    assert value(s, "chargeward_projection_lag_positions", projection="live") == head - position >= 0
    exposed = {family_of(n) for n in names(s)}
    catalogued = {spec.name for spec in SPECS}
    assert exposed <= catalogued, f"undocumented: {exposed - catalogued}"
    # Everything is exposed from the first scrape, except counters keyed by something that never
    # happened here (errors, repairs, restarts, dead letters).
    never_happened = {
        "chargeward_ocpp_call_errors_total",
        "chargeward_ocpp_repairs_total",
        "chargeward_actor_restarts_total",
        "chargeward_actor_escalations_total",
        "chargeward_dead_letters_total",
        "chargeward_station_connections_refused_total",  # tests/security/test_station_auth.py
        "chargeward_reconciliation_state",  # per station, once one ran (tests/integration/test_reconcile.py)
    }
    assert value(s, "chargeward_reconciliation_stations", state="none") == 1, "nothing intended: none ran"
    # Modbus series appear only with configured devices (tests/modbus_actors/test_wiring.py has them);
    # the poll histogram is registered up front like the others.
    never_happened |= {spec.name for spec in MODBUS_SPECS if spec.kind != "histogram"}
    # Site series appear only with configured sites (tests/integration/test_site_serve.py has them).
    never_happened |= {spec.name for spec in SITE_SPECS}
    # Node series appear only with serve --node (tests/integration/test_nodes.py has them).
    never_happened |= {spec.name for spec in NODE_SPECS}
    # Upstream series appear only with [upstream] (tests/integration/test_upstream_serve.py has them).
    never_happened |= {spec.name for spec in UPSTREAM_SPECS}
    assert catalogued - exposed == never_happened


async def test_a_charging_session_shows_in_every_metric(tmp_path: Path) -> None:
    async with open_csms(make_config(tmp_path)) as csms:
        attach_metrics(csms)  # before any traffic, as the composition root should
        await charging_session(csms, "CP-M1")


async def test_without_per_connector_series_only_fleet_sums_remain(tmp_path: Path) -> None:
    config = replace(make_config(tmp_path), store_url="memory://")
    async with open_csms(config) as csms:
        attach_metrics(csms, MetricsOptions(per_connector=False))
        async with peer_station(url_of(csms), "CP-M2") as peer:
            await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="W22")
            await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
            await live(csms)
            s = parse((await render_metrics(csms))[0])
    assert not [k for k in s if "station" in dict(k[1])], "no series is labelled by station"
    assert value(s, "chargeward_connectors", status="Available") == 1
    assert value(s, "chargeward_stations_connected") == 1


async def test_quirky_charger_counts_repairs_by_vendor_and_field_and_errors_by_code(tmp_path: Path) -> None:
    """The real Chargedot boot (capital-C serial number key) is repaired; a CALL without payload is
    answered with a CALLERROR; an unknown action is NotImplemented. The connection stays up."""
    first = json.loads(CHARGEDOT_SESSION.read_text().splitlines()[0])
    config = replace(make_config(tmp_path), store_url="memory://")
    async with open_csms(config) as csms:
        attach_metrics(csms)
        url = f"{url_of(csms)}/CDT-1"
        async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as ws:
            replies = []
            for text in (json.dumps(first["frame"]), '[2, "6", "Heartbeat"]', '[2, "7", "Teleport", {}]'):
                await ws.send_message(text)
                with trio.fail_after(10):
                    replies.append(json.loads(await ws.get_message()))
            s = parse((await render_metrics(csms))[0])
    assert [r[0] for r in replies] == [3, 4, 4]
    bad_call_code = replies[1][2]
    assert value(s, "chargeward_ocpp_repairs_total", vendor="Chargedot", field="$.ChargeBoxSerialNumber") == 1
    assert value(s, "chargeward_ocpp_call_errors_total", code=bad_call_code) == 1
    assert value(s, "chargeward_ocpp_call_errors_total", code="NotImplemented") == 1
    assert value(s, "chargeward_ocpp_frames_in_total", action="invalid", outcome="error") == 2
    assert value(s, "chargeward_ocpp_frames_in_total", action="BootNotification", outcome="result") == 1


async def test_metrics_attach_once_per_csms(tmp_path: Path) -> None:
    async with open_csms(replace(make_config(tmp_path), store_url="memory://"), serve_ocpp=False) as csms:
        first = attach_metrics(csms)
        assert attach_metrics(csms) is first and attach_metrics(csms, MetricsOptions()) is first
        with pytest.raises(ValueError, match="already attached"):
            attach_metrics(csms, MetricsOptions(per_connector=False))
        assert len(csms.fleet.stats.round_trip_observers) == 1, "hooked in once"
