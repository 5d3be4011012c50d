"""Meter actors against real peers: pymodbus's own server in a subprocess and the trio simulator.

Every poll is one event (a reading or a failure); refusals, slow answers and absent devices cost
an event, a counter and a stale flag, and the actor lives on and recovers by itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from actors.events.modbus import ModbusDeviceRecovered, ModbusDeviceStale, ModbusPollFailed, ModbusReading
from actors.fleet import Fleet
from actors.meter import MeterBinding
from actors.policy import FleetPolicy
from adapters.modbus_fleet import UnknownDevice
from adapters.profile_loader import load_shipped_profile
from adapters.stores import open_store
from bench.modbus_sim import ModbusSimServer, SimulatedCharger
from core.events import EventRecord
from core.store import EventStore
from core.supervisor import Runtime
from tests.modbus.conftest import Peer, free_port
from tests.modbus.peer_server import LAYOUT
from tests.modbus_actors.conftest import (
    PEER_METER,
    PEER_VALUES,
    REFUSED,
    devices_running,
    listening,
    tcp_device,
    until,
)

POLL_EVENTS = (ModbusReading.TYPE, ModbusPollFailed.TYPE)


async def polls_of(store: EventStore, stream: str) -> list[EventRecord]:
    return [r for r in await store.read_stream(stream) if r.type in POLL_EVENTS]


async def test_every_poll_is_an_event_and_a_refusing_device_goes_stale_but_lives(
    peer_factory: Callable[[str], Peer],
) -> None:
    peer = peer_factory("socket")
    await listening(peer.port)
    devices = [
        tcp_device("good", peer.port, PEER_METER, unit=1),
        tcp_device("refused", peer.port, REFUSED, unit=2),
    ]
    async with open_store("memory://") as store:
        async with devices_running(store, devices) as running:
            stats = running.stats
            assert len(running.lines) == 1  # two units behind one gateway share its connection
            await until(lambda: stats.polls["good"] >= 5 and stats.stale["refused"], limit=20)
            snapshot = await running.inspect("refused")  # the actor answers: it lives on
            assert snapshot.stale and snapshot.missed >= 3
            with pytest.raises(UnknownDevice):
                await running.inspect("nobody")
        # Everything has stopped: the log and the counters must agree exactly.
        good = await polls_of(store, "meter/good")
        assert len(good) == stats.polls["good"] and {r.type for r in good} == {ModbusReading.TYPE}
        first = good[-1].data
        assert {s["name"]: s["value"] for s in first["samples"]} == PEER_VALUES
        voltage = next(s for s in first["samples"] if s["name"] == "voltage")
        assert (voltage["measurand"], voltage["phase"], voltage["unit"]) == ("Voltage", "L1-N", "V")
        raw = {block["address"]: block["registers"] for block in first["raw"]}
        assert set(raw) == {0, 10, 20} and raw[0] == [LAYOUT[0][4]]
        assert all(block["function"] == 3 for block in first["raw"])
        assert first["latency_s"] > 0

        refused = await store.read_stream("meter/refused")
        failures = [r for r in refused if r.type == ModbusPollFailed.TYPE]
        assert len(failures) == stats.polls["refused"] == stats.errors[("refused", "exception")]
        assert all(f.data["kind"] == "exception" and f.data["exception_code"] == 2 for f in failures)
        assert [f.data["missed"] for f in failures] == list(range(1, len(failures) + 1))
        stale = [r for r in refused if r.type == ModbusDeviceStale.TYPE]
        assert len(stale) == 1 and stale[0].sequence == failures[2].sequence + 1
        assert stats.stale_devices() == ["refused"] and stats.errors[("good", "exception")] == 0


async def test_a_slow_device_times_out_goes_stale_and_recovers_by_itself() -> None:
    charger = SimulatedCharger(meter_unit=1, evse_unit=2)
    charger.start()
    server = ModbusSimServer(charger.devices(), response_delay=0.5)
    async with open_store("memory://") as store:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.serve_tcp)
            meter = tcp_device("slow", port, load_shipped_profile("eastron_sdm630"), timeout=0.1)
            async with devices_running(store, [meter]) as running:
                stats = running.stats
                await until(lambda: stats.stale.get("slow", False), limit=10)
                server.response_delay = 0.0
                await until(lambda: not stats.stale["slow"] and stats.polls["slow"] >= 6, limit=10)
            nursery.cancel_scope.cancel()
        records = await store.read_stream("meter/slow")
    kinds = [r.type for r in records]
    assert kinds.count(ModbusDeviceStale.TYPE) == 1 and kinds.count(ModbusDeviceRecovered.TYPE) == 1
    assert stats.errors[("slow", "timeout")] >= 3
    recovered = kinds.index(ModbusDeviceRecovered.TYPE)
    assert kinds[recovered - 1] == ModbusReading.TYPE  # the reading that ended the staleness
    assert all(k == ModbusReading.TYPE for k in kinds[recovered + 1 :])
    assert len([k for k in kinds if k in POLL_EVENTS]) == stats.polls["slow"]
    last = records[-1].data
    assert {s["name"] for s in last["samples"]} >= {"voltage_l1", "import_energy", "total_power"}
    energy = next(s for s in last["samples"] if s["name"] == "import_energy")
    assert energy["unit"] == "Wh"  # the profile says kWh; events carry unprefixed units


async def test_an_absent_device_backs_off_and_a_device_that_comes_and_goes_recovers() -> None:
    peer = Peer("socket")  # not started yet: nothing listens on its port
    try:
        async with open_store("memory://") as store:
            async with devices_running(store, [tcp_device("late", peer.port, PEER_METER)]) as running:
                stats = running.stats
                await trio.sleep(1.5)
                # 0.1 s interval, backoff capped at 0.4 s: about 6 polls in 1.5 s, not 15.
                assert 3 <= stats.polls["late"] <= 8 and stats.stale["late"]
                assert stats.errors[("late", "disconnected")] == stats.polls["late"]
                peer.start()
                await until(lambda: not stats.stale["late"], limit=20)
                peer.stop()
                await until(lambda: stats.stale["late"], limit=10)
                peer.start()
                await until(lambda: not stats.stale["late"], limit=20)
            records = await store.read_stream("meter/late")
    finally:
        peer.stop()
    transitions = [r.type for r in records if r.type not in POLL_EVENTS]
    assert transitions == [ModbusDeviceStale.TYPE, ModbusDeviceRecovered.TYPE] * 2
    recovered = [r.data["missed"] for r in records if r.type == ModbusDeviceRecovered.TYPE]
    assert all(missed >= 3 for missed in recovered)
    assert len([r for r in records if r.type in POLL_EVENTS]) == stats.polls["late"]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_restarted_meter_resumes_its_stream_and_stale_flag(backend: str, tmp_path: Path) -> None:
    absent = tcp_device("gone", free_port(), PEER_METER)
    url = "memory://" if backend == "memory" else f"sqlite:///{tmp_path / 'events.db'}"
    async with open_store(url) as store:
        async with devices_running(store, [absent]) as running:
            await until(lambda: running.stats.stale.get("gone", False))
        version = await store.stream_version("meter/gone")
        async with devices_running(store, [absent]) as again:
            snapshot = await again.inspect("gone")
            assert snapshot.stale and snapshot.version >= version
            await until(lambda: again.stats.polls["gone"] >= 1)
        records = await store.read_stream("meter/gone")
    # No second Stale event: the new incarnation knew it was stale already.
    assert [r.type for r in records].count(ModbusDeviceStale.TYPE) == 1
    assert [r.sequence for r in records] == list(range(1, len(records) + 1))


async def test_a_meter_tied_to_a_connector_tells_it_each_committed_reading() -> None:
    charger = SimulatedCharger(meter_unit=1, evse_unit=2)
    charger.state.setpoint = 16.0
    charger.start()
    server = ModbusSimServer(charger.devices())
    runtime = Runtime()
    async with open_store("memory://") as store:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.serve_tcp)
            fleet = Fleet(runtime, store, FleetPolicy())
            await nursery.start(fleet.run)
            binding = MeterBinding(station="CP-1", connector=1, site="depot")
            meter = tcp_device("cp1-meter", port, load_shipped_profile("eastron_sdm630"), binding=binding)
            tied = devices_running(store, [meter], connectors=fleet.connector, runtime=runtime)
            async with tied as running:
                await until(lambda: running.stats.polls["cp1-meter"] >= 3)
                view = await fleet.inspect_connector("CP-1", 1)
            nursery.cancel_scope.cancel()
        reading = (await polls_of(store, "meter/cp1-meter"))[-1]
    assert reading.data["station"] == "CP-1" and reading.data["connector"] == 1
    assert reading.data["site"] == "depot"
    assert view.power_w == pytest.approx(16.0 * 230.0 * 3, rel=1e-3)
    assert view.current_a == pytest.approx({"L1": 16.0, "L2": 16.0, "L3": 16.0, "N": 0.0}, rel=1e-3)
    assert view.voltage_v["L1-N"] == pytest.approx(230.0)
    assert view.energy_wh is not None and view.last_sample_time is not None
    assert view.status is None and view.position == 0  # the station's own state is untouched
    assert Counter(running.stats.connector_dropped)["cp1-meter"] == 0
