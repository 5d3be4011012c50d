"""The ``[[modbus.devices]]`` part of the configuration file: which meters and EVSE controllers to run.

Example::

    [[modbus.devices]]
    id = "grid"                   # stream meter/grid (or evse/<id> for an EVSE profile)
    transport = "tcp"             # tcp | rtu-over-tcp | serial
    host = "10.0.0.5"
    port = 502                    # default 502
    unit = 1
    profile = "eastron_sdm630"    # a shipped profile, or a .toml path (relative to this file)
    interval = 1.0                # seconds between polls, 0.1 at the fastest
    timeout = 0.5                 # per request (default 1.0)
    stale_after = 3               # missed polls in a row before the device is stale
    site = "depot"

    [[modbus.devices]]
    id = "wallbox-1"
    transport = "serial"
    device = "/dev/ttyUSB0"
    baudrate = 9600               # default 9600
    parity = "N"                  # N | E | O
    unit = 1
    profile = "simpleevse_wb"
    station = "CP-1"              # the connector this device measures or drives
    connector = 1

Devices naming the same gateway (transport, host, port) or the same serial device share one line.
Every mistake raises :class:`adapters.config.ConfigError` naming the file and the key
(``modbus.devices[1].unit``) before any device is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.device_profile import DeviceKind, DeviceProfile
from actors.meter import MIN_INTERVAL, MeterBinding
from adapters.config import ConfigError, TableReader
from adapters.modbus import Framing, serial_connector
from adapters.profile_loader import ProfileConfigError, load_profile, load_shipped_profile

TRANSPORTS = ("tcp", "rtu-over-tcp", "serial")
_COMMON = {
    "id", "transport", "unit", "profile", "interval", "timeout", "stale_after",
    "station", "connector", "site",
}  # fmt: skip
_BY_TRANSPORT = {
    "tcp": {"host", "port"},
    "rtu-over-tcp": {"host", "port"},
    "serial": {"device", "baudrate", "parity", "stopbits"},
}


@dataclass(frozen=True, slots=True)
class TcpLine:
    """A Modbus TCP device or an RTU-over-TCP gateway."""

    host: str
    port: int
    framing: Framing


@dataclass(frozen=True, slots=True)
class SerialLine:
    """An RS-485 bus on a local serial port."""

    device: str
    baudrate: int
    parity: str
    stopbits: int


LineConfig = TcpLine | SerialLine


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One configured device: where it is, what it is, how often to poll it, what it belongs to."""

    id: str
    line: LineConfig
    unit: int
    profile: DeviceProfile
    interval: float = 1.0
    timeout: float = 1.0
    stale_after: int = 3
    binding: MeterBinding = field(default_factory=MeterBinding)

    @property
    def kind(self) -> DeviceKind:
        return self.profile.kind


class _Table(TableReader):
    """Typed access to one ``[[modbus.devices]]`` entry; errors name the file and the dotted key."""

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        value: int = self.get(name, int, default, required=default is None)
        if not low <= value <= high:
            raise self.fail(name, f"must be {low}..{high}, got {value}")
        return value

    def seconds(self, name: str, minimum: float, default: float) -> float:
        value = float(self.get(name, (int, float), default))
        if not value >= minimum or value == float("inf"):
            raise self.fail(name, f"must be a number of seconds >= {minimum}, got {value!r}")
        return value


def parse_modbus(
    document: Mapping[str, Any], source: str, base_dir: Path | None = None
) -> list[DeviceConfig]:
    """The devices of a parsed TOML document's ``[modbus]`` table (none when it has no such table).

    ``base_dir`` resolves relative profile paths (default: the directory of ``source``).
    """
    base = base_dir if base_dir is not None else Path(source).parent
    modbus = document.get("modbus", {})
    if not isinstance(modbus, Mapping):
        raise ConfigError(source, "modbus", f"must be a table, got {modbus!r}")
    unknown = sorted(set(modbus) - {"devices"})
    if unknown:
        raise ConfigError(source, f"modbus.{unknown[0]}", "unknown key (check the spelling)")
    entries = modbus.get("devices", [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ConfigError(source, "modbus.devices", "must be an array of tables ([[modbus.devices]])")
    devices: list[DeviceConfig] = []
    seen_ids: dict[str, int] = {}
    seen_units: dict[tuple[str, int], int] = {}
    transports: dict[str, tuple[str, int]] = {}
    for index, entry in enumerate(entries):
        table = _Table(source, entry, f"modbus.devices[{index}]")
        device = _device(table, base)
        if device.id in seen_ids:
            raise table.fail("id", f"{device.id!r} is already used by modbus.devices[{seen_ids[device.id]}]")
        seen_ids[device.id] = index
        where = _where(device.line)
        if (where, device.unit) in seen_units:
            other = seen_units[where, device.unit]
            raise table.fail("unit", f"unit {device.unit} on {where} is already modbus.devices[{other}]")
        seen_units[where, device.unit] = index
        transport = entry["transport"]
        if transports.setdefault(where, (transport, index))[0] != transport:
            first, at = transports[where]
            raise table.fail("transport", f"{where} is {first!r} in modbus.devices[{at}]")
        if isinstance(device.line, SerialLine):
            previous = next((d.line for d in devices if _where(d.line) == where), device.line)
            if previous != device.line:
                raise table.fail("device", f"{where} has other serial settings in another device")
        devices.append(device)
    return devices


def _where(line: LineConfig) -> str:
    if isinstance(line, TcpLine):
        return f"{line.host}:{line.port}"
    return line.device


def _device(table: _Table, base: Path) -> DeviceConfig:
    device_id = table.get("id", str, required=True)
    if not device_id or any(c.isspace() for c in device_id):
        raise table.fail("id", f"must be non-empty without spaces, got {device_id!r}")
    transport = table.get("transport", str, required=True)
    if transport not in TRANSPORTS:
        raise table.fail("transport", f"must be one of {list(TRANSPORTS)}, got {transport!r}")
    allowed = _COMMON | _BY_TRANSPORT[transport]
    for key in table.table:
        if key not in allowed:
            why = "unknown key (check the spelling)"
            if any(key in keys for keys in _BY_TRANSPORT.values()):
                why = f"does not apply to transport {transport!r}"
            raise table.fail(key, why)
    line = _line(table, transport)
    rtu = transport != "tcp"
    unit = table.integer("unit", 1 if rtu else 0, 247 if rtu else 255)
    interval = table.seconds("interval", MIN_INTERVAL, 1.0)
    timeout = table.seconds("timeout", 0.001, 1.0)
    stale_after = table.integer("stale_after", 1, 1000, 3)
    station = table.get("station", str)
    connector = table.get("connector", int)
    if (station is None) != (connector is None):
        missing = "connector" if station is not None else "station"
        raise table.fail(missing, "station and connector go together")
    if connector is not None and connector < 1:
        raise table.fail("connector", f"must be 1 or more, got {connector}")
    site = table.get("site", str)
    return DeviceConfig(
        id=device_id,
        line=line,
        unit=unit,
        profile=_profile(table, base),
        interval=interval,
        timeout=timeout,
        stale_after=stale_after,
        binding=MeterBinding(station, connector, site),
    )


def _line(table: _Table, transport: str) -> LineConfig:
    if transport == "serial":
        device = table.get("device", str, required=True)
        baudrate = table.get("baudrate", int, 9600)
        parity = table.get("parity", str, "N")
        stopbits = table.get("stopbits", int, 1)
        try:
            serial_connector(device, baudrate, parity, stopbits)  # checks the settings, opens nothing
        except ValueError as exc:
            raise table.fail("baudrate" if "baud" in str(exc) else "parity", str(exc)) from None
        return SerialLine(device, baudrate, parity, stopbits)
    host = table.get("host", str, required=True)
    port = table.integer("port", 1, 65535, 502)
    return TcpLine(host, port, Framing.SOCKET if transport == "tcp" else Framing.RTU)


def _profile(table: _Table, base: Path) -> DeviceProfile:
    name = table.get("profile", str, required=True)
    try:
        if name.endswith(".toml") or "/" in name:
            path = Path(name)
            return load_profile(path if path.is_absolute() else base / path)
        return load_shipped_profile(name)
    except ProfileConfigError as exc:
        raise table.fail("profile", str(exc)) from None
