"""[[modbus.devices]] configuration: every accepted field, and every mistake naming file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from actors.device_profile import DeviceKind
from actors.meter import MeterBinding
from adapters.config import ConfigError, load_config
from adapters.modbus import Framing
from adapters.modbus_config import SerialLine, TcpLine, parse_modbus

EXAMPLE = """
[[modbus.devices]]
id = "grid"
transport = "tcp"
host = "10.0.0.5"
unit = 1
profile = "eastron_sdm630"
interval = 0.1
timeout = 0.5
stale_after = 5
site = "depot"

[[modbus.devices]]
id = "wallbox-1"
transport = "rtu-over-tcp"
host = "10.0.0.6"
port = 4196
unit = 2
profile = "simpleevse_wb"
station = "CP-1"
connector = 1

[[modbus.devices]]
id = "sub-meter"
transport = "serial"
device = "/dev/ttyUSB0"
baudrate = 19200
parity = "E"
unit = 7
profile = "meters/custom.toml"
station = "CP-2"
connector = 2
site = "depot"
"""

CUSTOM = """
[profile]
name = "custom"
kind = "meter"

[points.power]
address = 0
function = "input"
type = "float32"
unit = "W"
measurand = "Power.Active.Import"
"""


def test_parses_every_transport_and_binding(tmp_path: Path) -> None:
    (tmp_path / "meters").mkdir()
    (tmp_path / "meters" / "custom.toml").write_text(CUSTOM)
    config = tmp_path / "chargeward.toml"
    config.write_text(EXAMPLE)
    grid, wallbox, sub = load_config(config).modbus
    assert grid.line == TcpLine("10.0.0.5", 502, Framing.SOCKET)
    assert (grid.unit, grid.interval, grid.timeout, grid.stale_after) == (1, 0.1, 0.5, 5)
    assert grid.kind is DeviceKind.METER and grid.binding == MeterBinding(site="depot")
    assert wallbox.line == TcpLine("10.0.0.6", 4196, Framing.RTU) and wallbox.kind is DeviceKind.EVSE
    assert (wallbox.interval, wallbox.timeout, wallbox.stale_after) == (1.0, 1.0, 3)
    assert wallbox.binding == MeterBinding(station="CP-1", connector=1)
    assert sub.line == SerialLine("/dev/ttyUSB0", 19200, "E", 1)
    assert sub.profile.name == "custom" and sub.binding == MeterBinding("CP-2", 2, "depot")


def test_no_modbus_table_means_no_devices() -> None:
    assert parse_modbus({"server": {}}, "chargeward.toml") == []


DEVICE = 'id = "m"\ntransport = "tcp"\nhost = "h"\nunit = 1\nprofile = "generic_meter"\n'
SERIAL = DEVICE.replace('host = "h"', 'device = "/dev/ttyS0"').replace('"tcp"', '"serial"')
RTU = DEVICE.replace('"tcp"', '"rtu-over-tcp"')


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (DEVICE.replace("unit = 1\n", ""), "unit", "required"),
        (DEVICE.replace('"tcp"', '"udp"'), "transport", "must be one of"),
        (DEVICE + "interval = 0.01\n", "interval", ">= 0.1"),
        (DEVICE + 'interval = "1s"\n', "interval", "must be int or float"),
        (DEVICE + "timeout = 0\n", "timeout", "seconds"),
        (DEVICE + "stale_after = 0\n", "stale_after", "1..1000"),
        (DEVICE + "baudrate = 9600\n", "baudrate", "does not apply to transport 'tcp'"),
        (DEVICE + "intreval = 1\n", "intreval", "unknown key"),
        (DEVICE + 'station = "CP-1"\n', "connector", "go together"),
        (DEVICE + 'station = "CP-1"\nconnector = 0\n', "connector", "1 or more"),
        (DEVICE + "port = 70000\n", "port", "1..65535"),
        (DEVICE.replace("unit = 1", "unit = true"), "unit", "must be int"),
        (DEVICE.replace("generic_meter", "no_such_profile"), "profile", "no shipped profile"),
        (DEVICE.replace("generic_meter", "missing.toml"), "profile", "cannot read"),
        (DEVICE.replace('id = "m"', 'id = "a b"'), "id", "without spaces"),
        (RTU.replace("unit = 1", "unit = 0"), "unit", "1..247"),
        (SERIAL + "baudrate = 12345\n", "baudrate", "unsupported baud rate"),
        (SERIAL + 'parity = "X"\n', "parity", "parity must be"),
    ],
)
def test_a_bad_device_names_the_file_and_key(tmp_path: Path, body: str, key: str, reason: str) -> None:
    config = tmp_path / "site.toml"
    config.write_text("[[modbus.devices]]\n" + body)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.source == str(config) and caught.value.key == f"modbus.devices[0].{key}"
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("second", "key", "reason"),
    [
        (DEVICE.replace('host = "h"', 'host = "x"'), "id", "already used"),
        (DEVICE.replace('id = "m"', 'id = "n"'), "unit", "already"),
        (RTU.replace('id = "m"', 'id = "n"').replace("unit = 1", "unit = 2"), "transport", "is 'tcp' in"),
    ],
)
def test_devices_must_not_collide(second: str, key: str, reason: str) -> None:
    document = tomllib.loads(f"[[modbus.devices]]\n{DEVICE}\n[[modbus.devices]]\n{second}")
    with pytest.raises(ConfigError) as caught:
        parse_modbus(document, "site.toml")
    assert caught.value.key == f"modbus.devices[1].{key}" and reason in caught.value.reason


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("modbus = 3\n", "modbus"),
        ("[modbus]\ndevice = []\n", "modbus.device"),
        ("[modbus]\ndevices = [1, 2]\n", "modbus.devices"),
        ("[[modbus.devices]\n", "-"),
    ],
)
def test_a_malformed_modbus_table_is_refused(tmp_path: Path, text: str, key: str) -> None:
    config = tmp_path / "site.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.key == key


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
