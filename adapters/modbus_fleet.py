"""Runs the configured Modbus devices: one line per gateway or bus, one supervised actor per device.

The composition root calls :func:`run_modbus` in its nursery::

    devices = parse_modbus(document, source)
    modbus = await nursery.start(partial(run_modbus, devices, runtime, store, connectors=fleet.connector))
    await modbus.set_current("wallbox-1", 16.0)

Devices on the same gateway (``host:port``) or serial port share one :class:`ModbusLine`, which
serialises their requests as the bus requires; each line's request timeout is the largest of its
devices'. Meters run :class:`~actors.meter.MeterActor` (stream ``meter/<id>``), EVSE controllers
:class:`~actors.evse_controller.EvseControllerActor` (stream ``evse/<id>``), all permanent children
of one supervisor named ``modbus``. Devices of one line start their polls spread over the interval,
so a line carries an even load instead of a burst per tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import trio

from actors.device_profile import DeviceKind
from actors.evse_controller import ControlResult, EvseControllerActor, EvseMessage, SetCurrent, SetEnabled
from actors.meter import (
    ConnectorRefs,
    DeviceDeps,
    DeviceSnapshot,
    InspectDevice,
    MeterActor,
    ModbusStats,
    PollSettings,
    ProfilePoller,
)
from adapters.modbus import Backoff, ModbusLine, rtu_frame_gap, serial_connector, tcp_connector
from adapters.modbus.framing import Framing
from adapters.modbus_config import DeviceConfig, LineConfig, SerialLine
from core.actor import ActorRef
from core.store import EventStore
from core.supervisor import Backoff as RestartBackoff
from core.supervisor import ChildSpec, Restart, Runtime, Supervisor

#: How long a caller waits for a control request beyond the device's own deadlines.
ASK_MARGIN = 5.0


class UnknownDevice(KeyError):
    """No device with this id is configured (or it is not of the kind asked for)."""


class ModbusDevices:
    """The running devices: references by id, the shared stats, the lines."""

    def __init__(
        self,
        devices: Sequence[DeviceConfig],
        runtime: Runtime,
        store: EventStore,
        *,
        connectors: ConnectorRefs | None = None,
        stats: ModbusStats | None = None,
        max_backoff: float = 30.0,
    ) -> None:
        self.configs = {device.id: device for device in devices}
        self.stats = stats if stats is not None else ModbusStats()
        self.supervisor = Supervisor(
            "modbus",
            runtime,
            intensity=max(10, 2 * len(devices)),
            period=10.0,
            backoff=RestartBackoff(first=0.5, ceiling=10.0),
        )
        self.lines: dict[LineConfig, ModbusLine] = {}
        by_line: dict[LineConfig, list[DeviceConfig]] = {}
        for device in devices:
            by_line.setdefault(device.line, []).append(device)
        deps = DeviceDeps(store, runtime.clock, self.stats, connectors)
        self._meters: dict[str, ActorRef[InspectDevice]] = {}
        self._evses: dict[str, ActorRef[EvseMessage]] = {}
        for line_config, on_line in by_line.items():
            timeout = max(d.timeout for d in on_line)
            line = self.lines[line_config] = _open_line(line_config, timeout, max_backoff)
            for index, device in enumerate(on_line):
                self.stats.stale[device.id] = False
                settings = PollSettings(
                    interval=device.interval,
                    stale_after=device.stale_after,
                    max_backoff=max(max_backoff, device.interval),
                    # Every request of a poll may take a full timeout, and wait for a neighbour's.
                    deadline=device.timeout * (len(device.profile.read_plan()) + 2),
                    phase=device.interval * index / len(on_line),
                )
                self._start(device, line, settings, deps)

    def _start(
        self, device: DeviceConfig, line: ModbusLine, settings: PollSettings, deps: DeviceDeps
    ) -> None:
        if device.kind is DeviceKind.EVSE:
            self._evses[device.id] = self.supervisor.start_child(
                ChildSpec(
                    id=f"evse/{device.id}",
                    factory=partial(
                        EvseControllerActor,
                        device.id,
                        line,
                        device.unit,
                        device.profile,
                        settings,
                        deps,
                        device.binding,
                    ),
                    kind="evse",
                    restart=Restart.PERMANENT,
                    capacity=16,
                )
            )
            return
        poller = ProfilePoller(line, device.unit, device.profile)
        self._meters[device.id] = self.supervisor.start_child(
            ChildSpec(
                id=f"meter/{device.id}",
                factory=partial(MeterActor, device.id, poller, settings, deps, device.binding),
                kind="meter",
                restart=Restart.PERMANENT,
                capacity=16,
            )
        )

    def device_ids(self) -> list[str]:
        return list(self.configs)

    async def inspect(self, device_id: str) -> DeviceSnapshot:
        """A device's stream version, stale flag and last values."""
        ref = self._meters.get(device_id) or self._evses.get(device_id)
        if ref is None:
            raise UnknownDevice(device_id)
        return await ref.ask(InspectDevice, timeout=10)

    async def set_current(self, device_id: str, amps: float) -> ControlResult:
        """Write an EVSE controller's current setpoint and verify it by reading it back.

        Raises :class:`UnknownDevice`, or ValueError when the profile cannot take ``amps``.
        """
        return await self._evse(device_id).ask(
            partial(SetCurrent, amps), timeout=self._ask_timeout(device_id)
        )

    async def set_enabled(self, device_id: str, enabled: bool) -> ControlResult:
        """Enable or disable charging on an EVSE controller and verify it by reading it back."""
        return await self._evse(device_id).ask(
            partial(SetEnabled, enabled), timeout=self._ask_timeout(device_id)
        )

    def _evse(self, device_id: str) -> ActorRef[EvseMessage]:
        ref = self._evses.get(device_id)
        if ref is None:
            raise UnknownDevice(f"no EVSE controller {device_id!r} is configured")
        return ref

    def _ask_timeout(self, device_id: str) -> float:
        device = self.configs[device_id]
        # A poll may be running (its deadline), then the write and the read-back (two more).
        return device.timeout * (len(device.profile.read_plan()) + 6) + ASK_MARGIN

    async def aclose(self) -> None:
        for line in self.lines.values():
            await line.aclose()


def _open_line(config: LineConfig, timeout: float, max_backoff: float) -> ModbusLine:
    """A line for ``config``; it connects on its first request and reconnects with backoff."""
    backoff = Backoff(maximum=max_backoff)
    if isinstance(config, SerialLine):
        connector = serial_connector(config.device, config.baudrate, config.parity, config.stopbits)
        gap = rtu_frame_gap(config.baudrate)
        return ModbusLine(connector, Framing.RTU, timeout=timeout, frame_gap=gap, backoff=backoff)
    connector = tcp_connector(config.host, config.port)
    return ModbusLine(connector, config.framing, timeout=timeout, backoff=backoff)


async def run_modbus(
    devices: Sequence[DeviceConfig],
    runtime: Runtime,
    store: EventStore,
    *,
    connectors: ConnectorRefs | None = None,
    stats: ModbusStats | None = None,
    max_backoff: float = 30.0,
    task_status: trio.TaskStatus[ModbusDevices] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the devices until cancelled; hands back a :class:`ModbusDevices` once they have started.

    ``connectors`` (``Fleet.connector``) lets meters tied to a station connector tell it each
    committed reading; ``max_backoff`` caps the poll backoff of a device that is gone.
    """
    running = ModbusDevices(
        devices, runtime, store, connectors=connectors, stats=stats, max_backoff=max_backoff
    )
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(running.supervisor.run)
            task_status.started(running)
    finally:
        with trio.CancelScope(shield=True):
            await running.aclose()
