"""Modbus devices from the config file run inside open_csms: log, live state, connector, metrics.

The peer is the simulated charger site (bench/modbus_sim.py: a Modbus TCP server on pymodbus's
datastore with the shipped SDM630 and SimpleEVSE profiles) on loopback.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import trio
import trio_websocket

from actors.events.modbus import ModbusReading
from adapters.config import load_config
from adapters.csms import open_csms
from adapters.metrics import attach_metrics, render_metrics
from bench.modbus_sim import serve_site
from tests.modbus_actors.conftest import until


async def test_configured_devices_feed_the_log_the_connector_and_the_metrics(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        [(port, _chargers)] = await nursery.start(serve_site, 1)
        config_file = tmp_path / "chargeward.toml"
        config_file.write_text(
            f"""
[[modbus.devices]]
id = "meter-1"
transport = "tcp"
host = "127.0.0.1"
port = {port}
unit = 1
profile = "eastron_sdm630"
interval = 0.2
station = "MB-1"
connector = 1

[[modbus.devices]]
id = "evse-1"
transport = "tcp"
host = "127.0.0.1"
port = {port}
unit = 2
profile = "simpleevse_wb"
interval = 0.5
station = "MB-1"
connector = 1
"""
        )
        config = load_config(config_file)
        config = replace(config, data_dir=tmp_path, server=replace(config.server, port=0))
        async with open_csms(config) as csms:
            attach_metrics(csms)
            url = f"ws://127.0.0.1:{csms.ocpp_port}/ocpp/MB-1"
            async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as ws:
                await ws.send_message(
                    '[2,"1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging"}]'
                )
                assert json.loads(await ws.get_message())[0] == 3
                assert csms.modbus is not None and sorted(csms.modbus.configs) == ["evse-1", "meter-1"]
                await until(lambda: csms.modbus_stats.polls["meter-1"] >= 5)
                readings = [
                    r for r in await csms.store.read_stream("meter/meter-1") if r.type == ModbusReading.TYPE
                ]
                assert readings and readings[0].data["station"] == "MB-1"
                await csms.live.wait_for(await csms.store.head())
                state = csms.live.state
                device = state.devices["meter/meter-1"]
                assert device.polls >= 5 and not device.stale and device.station == "MB-1"
                assert "Voltage L1-N" in device.values
                connector = state.stations["MB-1"].connectors[1]
                assert connector.status == "Charging" and connector.voltage_v, (
                    "meter values reach the connector"
                )
                actor_view = await csms.station("MB-1").connector(1)
                assert actor_view.voltage_v == connector.voltage_v
                body, _ = await render_metrics(csms)
        nursery.cancel_scope.cancel()
    text = body.decode()
    polls = re.search(r'^chargeward_modbus_polls_total\{device="meter-1"\} (\S+)$', text, re.MULTILINE)
    assert polls is not None and float(polls.group(1)) >= 5
    assert re.search(r'^chargeward_modbus_device_stale\{device="meter-1"\} 0\.0$', text, re.MULTILINE)
    assert re.search(r"^chargeward_modbus_poll_seconds_count (\S+)$", text, re.MULTILINE)
    assert re.search(
        r'^chargeward_modbus_line_events_total\{event="requests",line="127.0.0.1:\d+"\} ', text, re.MULTILINE
    )
    assert 'chargeward_modbus_value{device="meter-1",measurand="Voltage",phase="L1-N",unit="V"}' in text
