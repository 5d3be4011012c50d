"""The simulated chargers: the charging curve, and hundreds of devices served over Modbus TCP."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
import trio

from actors.device_link import DeviceExceptionResponse, MeterSource, RegisterFunction
from adapters.modbus import ModbusEvse, ModbusLine, ModbusMeter, tcp_connector
from adapters.profile_loader import load_shipped_profile
from bench.modbus_sim import EvModel, ModbusSimServer, SimulatedCharger, serve_site, site_chargers
from tests.modbus.conftest import ROOT, free_port


class FakeClock:
    """A settable clock for the EV model (the served tests use real sockets, so no MockClock there)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ev_model_follows_the_offer_and_tapers() -> None:
    ev = EvModel(max_current=16.0)
    assert ev.current(32.0) == 16.0
    assert ev.current(10.0) == 10.0
    assert ev.current(5.0) == 0.0  # below the IEC 61851 minimum no car charges
    ev.soc = 0.9
    assert ev.current(16.0) == pytest.approx(8.0)
    ev.soc = 1.0
    assert ev.current(16.0) == 0.0


def test_energy_integrates_the_power_over_clock_time() -> None:
    clock = FakeClock()
    charger = SimulatedCharger(
        meter_unit=1, evse_unit=2, clock=clock, ev=EvModel(capacity_kwh=100.0, soc=0.1)
    )
    charger.start()
    charger.state.setpoint = 16.0
    charger.advance()
    clock.now = 1800.0
    charger.advance()
    expected = 16.0 * 230.0 * 3 * 0.5 / 1000.0  # 5.52 kWh in half an hour on 3 phases
    assert charger.state.import_kwh == pytest.approx(expected)
    assert charger.ev.soc == pytest.approx(0.1 + expected / 100.0)
    values = charger.meter_values()
    assert values["total_power"] == pytest.approx(16.0 * 230.0 * 3)
    assert values["import_energy"] == pytest.approx(expected)


async def test_meter_responds_to_evse_setpoint_and_enable_over_modbus() -> None:
    clock = FakeClock()
    charger = SimulatedCharger(meter_unit=1, evse_unit=2, clock=clock)
    charger.start()
    server = ModbusSimServer(charger.devices())
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve_tcp)
        line = ModbusLine(tcp_connector("127.0.0.1", port))
        meter: MeterSource = ModbusMeter(line, 1, load_shipped_profile("eastron_sdm630"))
        evse = ModbusEvse(line, 2, load_shipped_profile("simpleevse_wb"))

        idle = await meter.poll()
        assert idle.value_of("Current.Import", "L1") == 0.0
        await evse.set_current(20)
        clock.now = 3600.0
        charging = await meter.poll()
        assert charging.value_of("Current.Import", "L2") == 20.0
        assert charging.value_of("Power.Active.Import") == pytest.approx(20 * 230 * 3)
        assert charging.value_of("Energy.Active.Import.Register") == pytest.approx(13.8, rel=1e-6)
        status = await evse.poll()
        assert status.value_of("Current.Offered") == 20.0

        await evse.set_enabled(False)
        assert (await meter.poll()).value_of("Current.Import", "L1") == 0.0
        await evse.set_enabled(True)
        assert (await meter.poll()).value_of("Current.Import", "L1") == 20.0

        with pytest.raises(DeviceExceptionResponse) as gap:
            await line.read(1, RegisterFunction.INPUT, 0x24, 2)  # undocumented on the SDM630
        assert gap.value.exception_code == 2
        with pytest.raises(DeviceExceptionResponse):
            await line.write(2, 1001, [5])  # read-only on the controller
        with pytest.raises(DeviceExceptionResponse) as absent:
            await line.read(77, RegisterFunction.HOLDING, 1000, 1)
        assert absent.value.exception_code == 0x0B  # gateway: target device failed to respond
        await line.aclose()
        nursery.cancel_scope.cancel()


def test_site_chargers_fill_unit_ids_per_server() -> None:
    groups = site_chargers(250)
    assert [len(group) for group in groups] == [123, 123, 4]
    units = [unit for charger in groups[0] for unit in (charger.meter_unit, charger.evse_unit)]
    assert units == list(range(1, 247))


async def test_hundreds_of_devices_follow_their_setpoints() -> None:
    count = 150  # 300 Modbus units on two servers
    async with trio.open_nursery() as nursery:
        served = await nursery.start(serve_site, count)
        meter_profile = load_shipped_profile("eastron_sdm630")
        evse_profile = load_shipped_profile("simpleevse_wb")
        checked = 0

        async def drive(port: int, chargers: list[SimulatedCharger]) -> None:
            nonlocal checked
            line = ModbusLine(tcp_connector("127.0.0.1", port))
            for index, charger in enumerate(chargers):
                amps = 6 + index % 27
                await ModbusEvse(line, charger.evse_unit, evse_profile).set_current(amps)
                reading = await ModbusMeter(line, charger.meter_unit, meter_profile).poll()
                assert reading.value_of("Current.Import", "L1") == min(amps, charger.ev.max_current)
                checked += 1
            await line.aclose()

        async with trio.open_nursery() as drivers:
            for port, chargers in served:
                drivers.start_soon(drive, port, chargers)
        nursery.cancel_scope.cancel()
    assert checked == count and len(served) == 2


async def test_simulator_survives_garbage_and_keeps_serving() -> None:
    charger = SimulatedCharger(meter_unit=1, evse_unit=2)
    charger.start()
    server = ModbusSimServer(charger.devices())
    rng = random.Random(5)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve_tcp)
        for size in (7, 64, 2000):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(rng.randbytes(size))
            await stream.aclose()
        # A function code nobody defined is refused with "illegal function", not fatal.
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(bytes.fromhex("0009 0000 0002 01 41"))
        answer = await stream.receive_some(64)
        assert answer == bytes.fromhex("0009 0000 0003 01 c1 01")
        await stream.aclose()
        line = ModbusLine(tcp_connector("127.0.0.1", port))
        assert await line.read(2, RegisterFunction.HOLDING, 1003, 1) == [32]
        await line.aclose()
        nursery.cancel_scope.cancel()


async def test_simulator_runs_from_the_command_line() -> None:
    port = free_port()
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "bench.modbus_sim", "--chargers", "2", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        banner = b""
        with trio.fail_after(20):
            while not banner.endswith(b"\n"):
                banner += await process.stdout.receive_some(256)
        assert banner.decode().startswith(f"127.0.0.1:{port}: 2 chargers (units 1..4")
        line = ModbusLine(tcp_connector("127.0.0.1", port))
        await ModbusEvse(line, 4, load_shipped_profile("simpleevse_wb")).set_current(12)
        reading = await ModbusMeter(line, 3, load_shipped_profile("eastron_sdm630")).poll()
        assert reading.value_of("Current.Import", "L3") == 12.0
        await line.aclose()
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
