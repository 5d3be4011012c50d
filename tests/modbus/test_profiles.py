"""Device profiles: the shipped TOML files load, and every kind of bad config names its file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.device_link import RegisterFunction
from actors.device_profile import DeviceKind, ProfileError, decode_reading
from actors.registers import DataType
from adapters.profile_loader import (
    ProfileConfigError,
    load_profile,
    load_shipped_profile,
    parse_profile,
    shipped_profile_names,
)

GOOD = """
[profile]
name = "test meter"
kind = "meter"

[defaults]
function = "input"
type = "float32"

[points.voltage]
address = 0
unit = "V"
measurand = "Voltage"
phase = "L1-N"

[points.energy]
address = 2
type = "u32"
word_order = "little"
scale = 0.01
unit = "kWh"
measurand = "Energy.Active.Import.Register"
"""


def test_every_shipped_profile_loads() -> None:
    names = shipped_profile_names()
    assert {"eastron_sdm630", "simpleevse_wb", "generic_meter"} <= set(names)
    for name in names:
        assert load_shipped_profile(name).points


def test_sdm630_layout_follows_the_manual() -> None:
    sdm = load_shipped_profile("eastron_sdm630")
    assert sdm.kind is DeviceKind.METER
    voltage = sdm.point("voltage_l1")
    assert voltage is not None
    assert (voltage.address, voltage.function, voltage.dtype) == (0, RegisterFunction.INPUT, DataType.FLOAT32)
    energy = sdm.point("import_energy")
    assert energy is not None
    assert (energy.address, energy.unit, energy.measurand) == (0x48, "kWh", "Energy.Active.Import.Register")
    # Points are never read across an undocumented register.
    for block in sdm.read_plan():
        covered = sum(p.dtype.register_count for p in block.points)
        assert covered == block.count


def test_simpleevse_writes_setpoint_and_inverted_enable() -> None:
    evse = load_shipped_profile("simpleevse_wb")
    assert evse.setpoint_write(16) == (1000, [16])
    assert evse.setpoint_write(0) == (1000, [0])
    assert evse.setpoint_write(31.9) == (1000, [31])  # a limit rounds down, never up
    assert evse.setpoint_write(6.0) == (1000, [6])
    assert evse.enable_write(True) == (1004, [0])
    assert evse.enable_write(False) == (1004, [1])
    with pytest.raises(ValueError, match="outside"):
        evse.setpoint_write(3)
    with pytest.raises(ValueError, match="outside"):
        evse.setpoint_write(81)
    with pytest.raises(ValueError, match="outside"):
        evse.setpoint_write(float("nan"))


def test_a_meter_profile_has_no_setpoint() -> None:
    with pytest.raises(ValueError, match="no setpoint register"):
        load_shipped_profile("eastron_sdm630").setpoint_write(16)


def test_read_plan_merges_within_max_gap_and_decodes() -> None:
    profile = parse_profile(GOOD, "good.toml")
    (block,) = profile.read_plan()
    assert (block.function, block.address, block.count) == (RegisterFunction.INPUT, 0, 4)
    words = profile.points[0].encode(231.5) + profile.points[1].encode(1234.56)
    reading = decode_reading({block: words})
    assert reading.value_of("Voltage", "L1-N") == 231.5
    assert reading.value_of("Energy.Active.Import.Register") == pytest.approx(1234.56)
    assert reading.value_of("Frequency") is None


def test_read_plan_splits_on_gaps_and_the_125_register_limit() -> None:
    points = "\n".join(f"[points.p{i}]\naddress = {i * 2}\n" for i in range(70))
    text = GOOD.split("[points.voltage]")[0] + points + "[points.far]\naddress = 400\n"
    plan = parse_profile(text, "wide.toml").read_plan()
    assert [(b.address, b.count) for b in plan] == [(0, 124), (124, 16), (400, 2)]


def test_decode_reading_rejects_a_short_answer() -> None:
    profile = parse_profile(GOOD, "good.toml")
    (block,) = profile.read_plan()
    with pytest.raises(ValueError, match="expects 4 registers"):
        decode_reading({block: [0, 0]})


def _with(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (_with('type = "u32"', 'type = "u24"'), "points.energy.type", "unknown value 'u24'"),
        (_with('unit = "kWh"', 'unit = "kWhr"'), "points.energy.unit", "unknown unit 'kWhr'"),
        (_with('unit = "V"', 'unit = "Volt"'), "points.voltage.unit", "unknown unit"),
        (_with("address = 2", "address = 1"), "points.energy.address", "overlap points.voltage"),
        (_with("address = 2", "address = 65535"), "points.energy.address", "outside 0..65535"),
        (_with("address = 2", "address = -4"), "points.energy.address", "outside"),
        (_with("address = 2", 'address = "2"'), "points.energy.address", "must be int"),
        (_with("address = 2", "adress = 2"), "points.energy.adress", "unknown key"),
        (_with('measurand = "Voltage"', 'measurand = "Volts"'), "points.voltage.measurand", "unknown OCPP"),
        (_with('phase = "L1-N"', 'phase = "L4"'), "points.voltage.phase", "unknown OCPP phase"),
        (_with("scale = 0.01", "scale = 0"), "points.energy.scale", "non-zero"),
        (_with('word_order = "little"', 'word_order = "middle"'), "points.energy.word_order", "'middle'"),
        (_with('kind = "meter"', 'kind = "toaster"'), "profile.kind", "unknown value"),
        (_with('name = "test meter"', ""), "profile.name", "is required"),
        (_with('kind = "meter"', 'kind = "evse"'), "control", "needs a control section"),
        (GOOD + "\n[control]\nsetpoint = 'voltage'\nmin_current = 6\nmax_current = 32\n", "control", "meter"),
        (GOOD + "[points.x\n", "(syntax)", ""),
        ("[profile]\nname='x'\nkind='meter'\n[points]\n", "points", "at least one point"),
    ],
)
def test_bad_profile_names_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    path = tmp_path / "site_meter.toml"
    path.write_text(text)
    with pytest.raises(ProfileConfigError) as caught:
        load_profile(path)
    assert caught.value.source == str(path)
    assert caught.value.key == key
    assert message in caught.value.message
    assert str(path) in str(caught.value) and key in str(caught.value)


def test_evse_control_must_name_a_holding_point() -> None:
    text = _with('kind = "meter"', 'kind = "evse"') + (
        "\n[control]\nsetpoint = 'voltage'\nmin_current = 6\nmax_current = 32\n"
    )
    with pytest.raises(ProfileConfigError, match=r"evse\.toml: control\.setpoint: .*holding"):
        parse_profile(text, "evse.toml")
    with pytest.raises(ProfileConfigError, match=r"control\.setpoint: names no point"):
        parse_profile(text.replace("setpoint = 'voltage'", "setpoint = 'nope'"), "evse.toml")


def test_missing_file_and_unknown_shipped_profile() -> None:
    with pytest.raises(ProfileConfigError, match="cannot read"):
        load_profile("/nonexistent/meter.toml")
    with pytest.raises(ProfileConfigError, match="no shipped profile"):
        load_shipped_profile("abb_b23")


def test_profile_error_carries_its_key() -> None:
    error = ProfileError("points.x.unit", "unknown unit")
    assert (error.key, str(error)) == ("points.x.unit", "points.x.unit: unknown unit")


def test_scaled_setpoint_rounds_down_to_the_register_step() -> None:
    text = """
[profile]
name = "deci-amp evse"
kind = "evse"
[points.limit]
address = 10
function = "holding"
type = "u16"
scale = 0.1
unit = "A"
[control]
setpoint = "limit"
min_current = 6
max_current = 32
"""
    evse = parse_profile(text, "deci.toml")
    assert evse.setpoint_write(16.07) == (10, [160])
    assert evse.setpoint_write(16.1) == (10, [161])
    with pytest.raises(ProfileConfigError, match=r"points\.limit\.scale: a setpoint needs a positive scale"):
        parse_profile(text.replace("scale = 0.1", "scale = -0.1"), "deci.toml")
