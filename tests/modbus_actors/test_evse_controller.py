"""EVSE-controller actors against the simulator and a clamping pymodbus peer: write, read back, verify."""

from __future__ import annotations

import pytest
import trio

from actors.events.modbus import (
    EvseControlFailed,
    EvseControlMismatched,
    EvseControlReadBack,
    EvseControlRequested,
    EvseControlVerified,
    EvseControlWritten,
)
from actors.evse_controller import Outcome
from adapters.profile_loader import load_shipped_profile
from adapters.stores import open_store
from bench.modbus_sim import ModbusSimServer, SimulatedCharger
from core.store import EventStore
from tests.modbus.conftest import free_port
from tests.modbus_actors.conftest import EvsePeer, devices_running, listening, tcp_device, until
from tests.modbus_actors.evse_peer import CLAMP_AMPS

CONTROL_EVENTS = {
    EvseControlRequested.TYPE,
    EvseControlWritten.TYPE,
    EvseControlReadBack.TYPE,
    EvseControlVerified.TYPE,
    EvseControlMismatched.TYPE,
    EvseControlFailed.TYPE,
}
VERIFIED_STEPS = [
    EvseControlRequested.TYPE,
    EvseControlWritten.TYPE,
    EvseControlReadBack.TYPE,
    EvseControlVerified.TYPE,
]


async def control_events(store: EventStore, stream: str) -> list[tuple[str, dict[str, object]]]:
    return [(r.type, dict(r.data)) for r in await store.read_stream(stream) if r.type in CONTROL_EVENTS]


async def test_setpoint_and_enable_are_written_verified_and_followed_by_the_meter() -> None:
    charger = SimulatedCharger(meter_unit=1, evse_unit=2)
    charger.start()
    server = ModbusSimServer(charger.devices())
    async with open_store("memory://") as store:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.serve_tcp)
            devices = [
                tcp_device("wallbox", port, load_shipped_profile("simpleevse_wb"), unit=2),
                tcp_device("meter", port, load_shipped_profile("eastron_sdm630"), unit=1),
            ]
            async with devices_running(store, devices) as running:
                result = await running.set_current("wallbox", 16)
                assert result.outcome is Outcome.VERIFIED and result.actual == 16.0
                assert charger.state.setpoint == 16.0

                def meter_amps() -> float | None:
                    samples = running.stats.last_values.get("meter", ())
                    return next((s.value for s in samples if s.name == "current_l1"), None)

                await until(lambda: meter_amps() == pytest.approx(16.0))
                # 31.9 A on a 1 A register is 31 A, never 32: verified against what was written.
                rounded = await running.set_current("wallbox", 31.9)
                assert rounded.verified and rounded.actual == 31.0
                off = await running.set_enabled("wallbox", False)
                assert off.verified and off.actual == 0.0 and not charger.state.enabled
                await until(lambda: meter_amps() == 0.0)
                before = await store.stream_version("evse/wallbox")
                with pytest.raises(ValueError, match="outside"):
                    await running.set_current("wallbox", 100)
                snapshot = await running.inspect("wallbox")
                assert not snapshot.stale
                assert {s.name for s in snapshot.samples} >= {"current_setpoint", "current_offered"}
                stats = running.stats
            nursery.cancel_scope.cancel()
        events = await control_events(store, "evse/wallbox")
        after = [r for r in await store.read_stream("evse/wallbox") if r.sequence > before]
    assert not [r for r in after if r.type in CONTROL_EVENTS]  # the refused request touched nothing
    assert [kind for kind, _ in events] == VERIFIED_STEPS * 3
    requested = [data for kind, data in events if kind == EvseControlRequested.TYPE]
    assert [(d["what"], d["value"], d["address"]) for d in requested] == [
        ("current", 16.0, 1000),
        ("current", 31.9, 1000),
        ("enabled", 0.0, 1004),
    ]
    assert [d["words"] for d in requested] == [[16], [31], [1]]  # register 1004 is "off" when 1
    assert stats.controls[("wallbox", "current", "verified")] == 2
    assert stats.controls[("wallbox", "enabled", "verified")] == 1
    assert stats.polls["wallbox"] >= 1 and not stats.stale["wallbox"]


async def test_a_clamped_setpoint_is_recorded_as_a_mismatch(evse_peer: EvsePeer) -> None:
    await listening(evse_peer.port)
    wallbox = tcp_device("clamping", evse_peer.port, load_shipped_profile("simpleevse_wb"), interval=1.0)
    async with open_store("memory://") as store:
        async with devices_running(store, [wallbox]) as running:
            clamped = await running.set_current("clamping", 32)
            within = await running.set_current("clamping", 10)
            stats = running.stats
        events = await control_events(store, "evse/clamping")
    assert clamped.outcome is Outcome.MISMATCHED and clamped.actual == CLAMP_AMPS
    assert within.outcome is Outcome.VERIFIED and within.actual == 10.0
    mismatch = next(data for kind, data in events if kind == EvseControlMismatched.TYPE)
    assert mismatch == {
        "what": "current",
        "requested": 32.0,
        "actual": float(CLAMP_AMPS),
        "written": [32],
        "read": [CLAMP_AMPS],
    }
    assert stats.controls[("clamping", "current", "mismatched")] == 1


async def test_a_write_to_an_absent_controller_fails_with_an_event_and_the_actor_lives() -> None:
    wallbox = tcp_device("nowhere", free_port(), load_shipped_profile("simpleevse_wb"), interval=1.0)
    async with open_store("memory://") as store:
        async with devices_running(store, [wallbox]) as running:
            failed = await running.set_current("nowhere", 16)
            assert (await running.inspect("nowhere")).device_id == "nowhere"
            stats = running.stats
        events = await control_events(store, "evse/nowhere")
    assert failed.outcome is Outcome.FAILED and failed.failure == "disconnected"
    assert [kind for kind, _ in events] == [EvseControlRequested.TYPE, EvseControlFailed.TYPE]
    assert events[1][1]["stage"] == "write" and events[1][1]["kind"] == "disconnected"
    assert stats.controls[("nowhere", "current", "failed")] == 1
