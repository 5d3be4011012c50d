"""Fixtures and helpers for the Modbus actor tests: the pymodbus peer of tests/modbus, devices running."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio

from actors.device_link import RegisterFunction
from actors.device_profile import DeviceKind, DeviceProfile, RegisterPoint
from actors.meter import ConnectorRefs, MeterBinding, ModbusStats
from actors.registers import DataType, WordOrder
from adapters.modbus import Framing
from adapters.modbus_config import DeviceConfig, TcpLine
from adapters.modbus_fleet import ModbusDevices, run_modbus
from core.store import EventStore
from core.supervisor import Runtime
from tests.modbus.conftest import ROOT, Peer
from tests.modbus.conftest import peer_factory as peer_factory

HOLDING = RegisterFunction.HOLDING

#: Unit 1 of tests/modbus/peer_server.py as a meter: three of its LAYOUT values.
PEER_METER = DeviceProfile(
    "peer-unit-1",
    DeviceKind.METER,
    (
        RegisterPoint("plain", 0, HOLDING, DataType.U16),
        RegisterPoint("energy", 10, HOLDING, DataType.U32, unit="Wh",
                      measurand="Energy.Active.Import.Register"),
        RegisterPoint("voltage", 20, HOLDING, DataType.FLOAT32, WordOrder.BIG, unit="V",
                      measurand="Voltage", phase="L1-N"),
    ),
)  # fmt: skip
PEER_VALUES = {"plain": 42000.0, "energy": 3_000_000_000.0, "voltage": 230.5}

#: Unit 2 of the peer holds only address 0: reading address 5 is refused with exception code 2.
REFUSED = DeviceProfile("refused", DeviceKind.METER, (RegisterPoint("missing", 5, HOLDING, DataType.U16),))


def tcp_device(
    device_id: str,
    port: int,
    profile: DeviceProfile,
    *,
    unit: int = 1,
    interval: float = 0.1,
    timeout: float = 0.3,
    binding: MeterBinding | None = None,
) -> DeviceConfig:
    return DeviceConfig(
        id=device_id,
        line=TcpLine("127.0.0.1", port, Framing.SOCKET),
        unit=unit,
        profile=profile,
        interval=interval,
        timeout=timeout,
        binding=binding or MeterBinding(),
    )


@asynccontextmanager
async def devices_running(
    store: EventStore,
    devices: Sequence[DeviceConfig],
    *,
    connectors: ConnectorRefs | None = None,
    runtime: Runtime | None = None,
    max_backoff: float = 0.4,
) -> AsyncIterator[ModbusDevices]:
    """Run the devices for the block; every actor has stopped (nothing more is appended) after it."""
    async with trio.open_nursery() as nursery:
        running: ModbusDevices = await nursery.start(
            partial(
                run_modbus,
                devices,
                runtime or Runtime(),
                store,
                connectors=connectors,
                stats=ModbusStats(),
                max_backoff=max_backoff,
            )
        )
        yield running
        nursery.cancel_scope.cancel()


async def until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait until ``condition()`` holds, checking every 20 ms; fail after ``limit`` seconds."""
    with trio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - the conditions are counters, not events
            await trio.sleep(0.02)


async def listening(port: int, limit: float = 20.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port`` (a peer subprocess starting)."""
    with trio.fail_after(limit):
        while True:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
                continue
            await stream.aclose()
            return


class EvsePeer(Peer):
    """tests/modbus_actors/evse_peer.py (a clamping controller on pymodbus's server) in a subprocess."""

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.modbus_actors.evse_peer", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@pytest.fixture
def evse_peer() -> Iterator[EvsePeer]:
    """A started clamping EVSE peer, killed after the test."""
    peer = EvsePeer("socket")
    peer.start()
    yield peer
    peer.stop()
