"""A real Prometheus scrapes a running ``chargeward serve`` on loopback; PromQL finds the series.

The server runs as the operator would start it (its own process, SQLite store in a tmp data dir,
OCPP and API on free loopback ports); a real station (the ``ocpp`` package's ChargePoint) charges
on it so the series have values. Prometheus loads the shipped alert rules too, so its rules API
shows that they parse and evaluate against the live series.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from adapters.metrics import MODBUS_DEVICE_STALE, SPECS
from tests.integration.peer import peer_station
from tests.metrics.prometheus import prometheus
from tests.metrics.scrape import family_of

NOW = "2026-11-21T10:00:00Z"
BANNER = re.compile(rb"OCPP on ws://127\.0\.0\.1:(\d+)/ocpp/.*API on http://127\.0\.0\.1:(\d+)")
KNOWN = {spec.name for spec in (*SPECS, MODBUS_DEVICE_STALE)}


@asynccontextmanager
async def chargeward_serve(data_dir: Path) -> AsyncIterator[tuple[int, int]]:
    """``chargeward serve`` on free loopback ports; (ocpp port, api port). Stopped on exit."""
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-c",
            "import sys; from adapters.cli import main; sys.exit(main())",
            "serve",
            f"--data-dir={data_dir}",
            "--host=127.0.0.1",
            "--ocpp-port=0",
            "--api-port=0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        output = b""
        with trio.fail_after(30):
            while (found := BANNER.search(output)) is None:
                chunk = await process.stdout.receive_some()
                if not chunk:
                    raise RuntimeError(f"chargeward serve exited before listening: {output!r}")
                output += chunk
        yield int(found[1]), int(found[2])
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.terminate()
                with trio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
            await process.wait()


async def test_prometheus_scrapes_a_running_server_and_promql_finds_the_series(tmp_path: Path) -> None:
    async with (
        chargeward_serve(tmp_path / "data") as (ocpp_port, api_port),
        peer_station(f"ws://127.0.0.1:{ocpp_port}/ocpp", "CP-PROM") as peer,
        prometheus(tmp_path, f"127.0.0.1:{api_port}") as prom,
    ):
        with trio.fail_after(30):  # Prometheus's first scrape comes ~5 s after its start
            up = await prom.wait_for('up{job="chargeward"} == 1')
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="W22")
        started = await peer.call(
            "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=NOW
        )
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Charging")
        sampled = [{"value": "11000", "measurand": "Power.Active.Import", "unit": "W"}]
        await peer.call(
            "MeterValues",
            connector_id=1,
            transaction_id=started["transaction_id"],
            meter_value=[{"timestamp": NOW, "sampledValue": sampled}],
        )
        with trio.fail_after(40):
            power = await prom.wait_for('chargeward_connector_power_watts{station="CP-PROM"} > 0')
            connected = await prom.query("chargeward_stations_connected")
            await prom.wait_for(
                'chargeward_ocpp_latency_seconds_count{direction="station", action="MeterValues"} > 0'
            )
            handled = await prom.query(
                'sum by (action) (chargeward_ocpp_latency_seconds_count{direction="station"})'
            )
            status = await prom.wait_for('chargeward_connector_status{station="CP-PROM"} == 1')
            rules = await prom.rules()
            while any(rule["health"] != "ok" for rule in rules):
                await trio.sleep(0.5)
                rules = await prom.rules()
    assert [(r["metric"]["connector"], float(r["value"][1])) for r in power] == [("1", 11000.0)]
    assert float(up[0]["value"][1]) == 1
    assert float(connected[0]["value"][1]) == 1
    by_action = {r["metric"]["action"]: float(r["value"][1]) for r in handled}
    assert by_action == {
        "BootNotification": 1,
        "StartTransaction": 1,
        "StatusNotification": 1,
        "MeterValues": 1,
    }
    assert [r["metric"]["status"] for r in status] == ["Charging"]
    names = {rule["name"] for rule in rules}
    assert {
        "ChargewardStationOffline",
        "ChargewardConnectorFaulted",
        "ChargewardCallErrorRate",
        "ChargewardStoreLag",
        "ChargewardModbusDeviceStale",
    } <= names
    for rule in rules:
        used = {family_of(name) for name in re.findall(r"\bchargeward_[a-z0-9_]+", rule["query"])}
        assert used and used <= KNOWN, f"{rule['name']}: unknown metrics {used - KNOWN}"
