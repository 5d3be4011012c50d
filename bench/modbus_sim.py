"""Simulated Modbus devices on trio: chargers whose meter follows the EVSE setpoint.

Each :class:`SimulatedCharger` is a pair of Modbus units sharing one EV model: an energy meter
(by default the Eastron SDM630 layout) and an EVSE controller (by default SimpleEVSE-WB). Writing
the controller's current setpoint or enable register changes what the meter measures from then
on: current follows the setpoint up to the car's limit and tapers as the battery fills (a CC/CV
charging curve), and the energy register integrates the power over time.

The register store is pymodbus's own (``SimDevice`` / ``SimCore``, the non-deprecated v4
datastore); the devices are built from the same :class:`~actors.device_profile.DeviceProfile`
and register codec the actors use, so gaps in a profile are illegal addresses here as on the
real meter. :class:`ModbusSimServer` answers Modbus TCP (or RTU-framed) requests for any
number of units on any trio stream, without asyncio; one server holds up to 247 units, so a
bench runs hundreds of devices on a handful of ports.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

import trio
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerBase, FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from actors.device_link import RegisterFunction
from actors.device_profile import DeviceProfile, RegisterPoint
from adapters.modbus.framing import Framing
from adapters.profile_loader import load_shipped_profile


@dataclass
class EvModel:
    """A car on a charger: how much current it takes at a given state of charge.

    Below ``taper_from`` the car takes what the EVSE offers up to its onboard limit (constant
    current); above it the current falls linearly to zero at full (constant voltage phase).
    """

    capacity_kwh: float = 60.0
    soc: float = 0.2
    max_current: float = 32.0
    phases: int = 3
    voltage: float = 230.0
    taper_from: float = 0.8

    def current(self, offered: float) -> float:
        """The current per phase the car draws when ``offered`` amps are signalled."""
        if offered < 6.0 or self.soc >= 1.0:
            return 0.0
        current = min(offered, self.max_current)
        if self.soc > self.taper_from:
            current *= (1.0 - self.soc) / (1.0 - self.taper_from)
        return current


@dataclass
class ChargerState:
    """What the meter shows: integrated from the EVSE registers and the EV model."""

    setpoint: float = 0.0
    enabled: bool = True
    import_kwh: float = 0.0
    current: float = 0.0
    updated_at: float = 0.0

    @property
    def offered(self) -> float:
        """The current the EVSE signals: its setpoint while enabled, else nothing."""
        return self.setpoint if self.enabled else 0.0


@dataclass
class SimulatedCharger:
    """A meter unit and an EVSE unit whose registers share one car and one state.

    ``clock`` is injected so tests and the bench can drive time; it defaults to trio's clock.
    """

    meter_unit: int
    evse_unit: int
    ev: EvModel = field(default_factory=EvModel)
    meter_profile: DeviceProfile = field(default_factory=lambda: load_shipped_profile("eastron_sdm630"))
    evse_profile: DeviceProfile = field(default_factory=lambda: load_shipped_profile("simpleevse_wb"))
    clock: Callable[[], float] = trio.current_time
    state: ChargerState = field(default_factory=ChargerState)
    mains_frequency: float = 50.0

    def __post_init__(self) -> None:
        control = self.evse_profile.control
        if control is None:
            raise ValueError(f"{self.evse_profile.name} has no control section")
        self._control = control

    def advance(self) -> None:
        """Integrate energy and state of charge up to the clock's now at the current draw."""
        now = self.clock()
        hours = max(0.0, now - self.state.updated_at) / 3600.0
        self.state.updated_at = now
        kwh = self.state.current * self.ev.voltage * self.ev.phases * hours / 1000.0
        self.state.import_kwh += kwh
        self.ev.soc = min(1.0, self.ev.soc + kwh / self.ev.capacity_kwh)
        self.state.current = self.ev.current(self.state.offered)

    def start(self) -> None:
        """Begin integrating from the clock's now (call once before the first request)."""
        self.state.updated_at = self.clock()
        self.state.current = self.ev.current(self.state.offered)

    def meter_values(self) -> dict[str, float]:
        """The meter's quantities by point name, as the SDM630 profile names them."""
        amps = self.state.current
        volts = self.ev.voltage
        watts = amps * volts
        per_phase = [amps if phase < self.ev.phases else 0.0 for phase in range(3)]
        values = {
            "frequency": self.mains_frequency,
            "import_energy": self.state.import_kwh,
            "export_energy": 0.0,
            "import_reactive_energy": 0.0,
            "export_reactive_energy": 0.0,
            "total_energy": self.state.import_kwh,
            "total_power": watts * self.ev.phases,
            "total_apparent_power": watts * self.ev.phases,
            "total_reactive_power": 0.0,
            "total_power_factor": 1.0,
            "current_n": 0.0,
        }
        for index, phase_amps in enumerate(per_phase, start=1):
            values |= {
                f"voltage_l{index}": volts,
                f"current_l{index}": phase_amps,
                f"power_l{index}": phase_amps * volts,
                f"apparent_power_l{index}": phase_amps * volts,
                f"reactive_power_l{index}": 0.0,
                f"power_factor_l{index}": 1.0,
            }
        for pair in ("l1_l2", "l2_l3", "l3_l1"):
            values[f"voltage_{pair}"] = volts * math.sqrt(3)
        return values

    def evse_values(self) -> dict[str, float]:
        """The controller's read-only registers by point name (SimpleEVSE-WB names)."""
        drawing = self.state.current > 0
        return {
            "current_offered": self.state.offered,
            "vehicle_state": 3.0 if drawing else 2.0,
            "cable_limit": 32.0,
            "firmware": 17.0,
            "evse_state": 2.0 if self.state.offered else 3.0,
        }

    def devices(self) -> list[SimDevice]:
        """The two pymodbus devices, with actions that keep their registers in step with the model."""
        return [
            SimDevice(
                id=self.meter_unit,
                simdata=_layout(self.meter_profile),
                action=partial(self._on_access, self.meter_profile, self.meter_values),
            ),
            SimDevice(
                id=self.evse_unit,
                simdata=_layout(self.evse_profile, writable={self._control.setpoint, self._control.enable}),
                action=partial(self._on_access, self.evse_profile, self.evse_values),
            ),
        ]

    async def _on_access(
        self,
        profile: DeviceProfile,
        values: Callable[[], dict[str, float]],
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this before each access: apply writes to the model, then refresh registers."""
        self.advance()
        if set_values:
            self._apply_write(profile, address, [int(v) for v in set_values])
        table = RegisterFunction.INPUT if function_code == 4 else RegisterFunction.HOLDING
        current = values()
        for point in profile.points:
            if point.function is table and point.name in current:
                words = point.encode(current[point.name])
                offset = point.address - start_address
                registers[offset : offset + len(words)] = words
        return None

    def _apply_write(self, profile: DeviceProfile, address: int, words: list[int]) -> None:
        control = self._control
        for point in profile.points:
            offset = point.address - address
            if offset >= 0 and offset + point.dtype.register_count <= len(words):
                value = point.decode(words[offset : offset + point.dtype.register_count])
                if point.name == control.setpoint:
                    self.state.setpoint = value
                elif point.name == control.enable:
                    self.state.enabled = int(value) == control.enable_value
        self.state.current = self.ev.current(self.state.offered)


def static_device(unit: int, profile: DeviceProfile, values: Mapping[str, float]) -> SimDevice:
    """A device of any profile whose points hold fixed ``values`` (by point name; others read 0).

    Writes to holding points are accepted and kept, as on a real device.
    """
    return SimDevice(id=unit, simdata=_layout(profile, initial=values))


def _layout(
    profile: DeviceProfile,
    writable: set[str | None] | None = None,
    initial: Mapping[str, float] | None = None,
) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
    """pymodbus register blocks holding exactly the profile's points; gaps are illegal addresses.

    With ``writable`` given, only those points accept writes; ``initial`` sets starting values.
    """
    start = initial or {}

    def block(function: RegisterFunction) -> list[SimData]:
        points: list[RegisterPoint] = [p for p in profile.points if p.function is function]
        data = [
            SimData(
                p.address,
                values=p.encode(start.get(p.name, 0.0)),
                datatype=SimType.REGISTERS,
                readonly=writable is not None and p.name not in writable,
            )
            for p in points
        ]
        # pymodbus needs a non-empty block per table; an invalid cell answers "illegal address".
        return data or [SimData(0, datatype=SimType.INVALID)]

    bits = [SimData(0, values=False, datatype=SimType.BITS)]
    return (bits, list(bits), block(RegisterFunction.HOLDING), block(RegisterFunction.INPUT))


#: Bytes a connection may hold without forming a request before the server hangs up.
_MAX_PENDING = 1024


class ModbusSimServer:
    """Answers Modbus requests for a set of pymodbus ``SimDevice`` units on trio streams.

    ``response_delay`` holds every answer back, to simulate a slow device or a congested gateway.
    """

    def __init__(
        self, devices: list[SimDevice], framing: Framing = Framing.SOCKET, response_delay: float = 0.0
    ) -> None:
        self._core = SimCore(devices)
        self._units = {device.id for device in devices}
        self._framing = framing
        self.response_delay = response_delay
        self.requests = 0

    async def serve_tcp(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (port 0 picks a free one) and report the bound port via ``task_status``."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self.handle_stream, listeners)

    async def handle_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one connection (or one serial line) until the peer closes it."""
        decoder = DecodePDU(is_server=True)
        framer: FramerBase = FramerSocket(decoder) if self._framing is Framing.SOCKET else FramerRTU(decoder)
        buffer = b""
        async with stream:
            try:
                async for data in stream:
                    buffer += data
                    while buffer:
                        try:
                            used, request = framer.handleFrame(buffer, 0, 0)
                        except ModbusIOException as exc:
                            used, request = len(buffer), None
                            code_at = 7 if self._framing is Framing.SOCKET else 1
                            function_code = buffer[code_at] if len(buffer) > code_at else 0
                            await stream.send_all(framer.buildFrame(_refusal(exc, function_code)))
                        buffer = buffer[used:]
                        if request is None:
                            if len(buffer) > _MAX_PENDING:
                                return  # garbage that never frames: hang up, as a device would
                            break
                        response = await self._answer(request)
                        if response is not None:
                            await stream.send_all(framer.buildFrame(response))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return

    async def _answer(self, request: ModbusPDU) -> ModbusPDU | None:
        self.requests += 1
        if self.response_delay:
            await trio.sleep(self.response_delay)
        if request.dev_id not in self._units:
            if self._framing is Framing.RTU:
                return None  # on a bus, an absent unit is silence
            response: ModbusPDU = ExceptionResponse(request.function_code, ExcCodes.GATEWAY_NO_RESPONSE)
        else:
            try:
                response = await request.datastore_update(self._core, request.dev_id)  # type: ignore[arg-type]
            except Exception:  # any datastore failure is the device's, as in pymodbus's server
                response = ExceptionResponse(request.function_code, ExcCodes.DEVICE_FAILURE)
        response.transaction_id = request.transaction_id
        response.dev_id = request.dev_id
        return response


def _refusal(exc: ModbusIOException, function_code: int) -> ExceptionResponse:
    """The "illegal function" answer to a request pymodbus could not decode."""
    response = ExceptionResponse(function_code, ExcCodes.ILLEGAL_FUNCTION)
    response.transaction_id = exc.transaction_id or 0
    response.dev_id = exc.dev_id or 0
    return response


def site_chargers(
    count: int, *, clock: Callable[[], float] = trio.current_time
) -> list[list[SimulatedCharger]]:
    """``count`` chargers in groups of at most 123 (two units each, ids 1..246), one group per server."""
    meter_profile = load_shipped_profile("eastron_sdm630")
    evse_profile = load_shipped_profile("simpleevse_wb")
    groups: list[list[SimulatedCharger]] = []
    for index in range(count):
        slot = index % 123
        if slot == 0:
            groups.append([])
        groups[-1].append(
            SimulatedCharger(
                meter_unit=2 * slot + 1,
                evse_unit=2 * slot + 2,
                meter_profile=meter_profile,
                evse_profile=evse_profile,
                clock=clock,
            )
        )
    return groups


async def serve_site(
    count: int,
    host: str = "127.0.0.1",
    *,
    base_port: int = 0,
    response_delay: float = 0.0,
    task_status: trio.TaskStatus[list[tuple[int, list[SimulatedCharger]]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``count`` simulated chargers; report ``(port, chargers)`` per server via ``task_status``.

    Servers listen on ``base_port``, ``base_port + 1``, ...; with ``base_port`` 0 on free ports.
    """
    async with trio.open_nursery() as nursery:
        served: list[tuple[int, list[SimulatedCharger]]] = []
        for index, group in enumerate(site_chargers(count)):
            for charger in group:
                charger.start()
            devices = [device for charger in group for device in charger.devices()]
            server = ModbusSimServer(devices, response_delay=response_delay)
            port = await nursery.start(partial(server.serve_tcp, base_port and base_port + index, host))
            served.append((port, group))
        task_status.started(served)


def main(argv: list[str] | None = None) -> None:
    """Run a simulated site from the shell, e.g. to point ``mbpoll`` or a CSMS at it."""
    parser = argparse.ArgumentParser(prog="python -m bench.modbus_sim", description=main.__doc__)
    parser.add_argument("--chargers", type=int, default=10, help="meter + EVSE pairs (default 10)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=15020, help="first port; 123 chargers per port")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold back every answer")
    args = parser.parse_args(argv)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            start = partial(
                serve_site, args.chargers, args.host, base_port=args.port, response_delay=args.delay
            )
            for port, chargers in await nursery.start(start):
                units = f"units {chargers[0].meter_unit}..{chargers[-1].evse_unit}"
                print(
                    f"{args.host}:{port}: {len(chargers)} chargers ({units}; meters odd, EVSEs even)",
                    flush=True,
                )

    with contextlib.suppress(KeyboardInterrupt):
        trio.run(run)


if __name__ == "__main__":
    main()
