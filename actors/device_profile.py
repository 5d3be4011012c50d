"""Device profiles as data: what each register of a meter or EVSE controller means.

A profile is a frozen description (loaded from TOML by ``adapters.profile_loader``) that the
meter and EVSE actors consume: which registers to poll, how to decode them, which OCPP
measurand and phase each maps to, and which registers take a current setpoint and an
enable flag. Validation is pure and names the offending key (``points.<name>.address``), so
the loader can add the file name and a bad config never reaches a device.

This module also holds the two pieces of domain logic that follow from a profile: the read
plan (points grouped into as few Modbus requests as the profile allows) and decoding a plan's
answers into a :class:`~actors.device_link.Reading`.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

from actors.device_link import Reading, RegisterFunction, Sample
from actors.registers import ByteOrder, DataType, WordOrder, decode_scaled, encode_scaled

#: Units a profile may declare: the OCPP unit-of-measure values (with the schema's spelling
#: ``Celsius``), plus Hz and the empty string for the unitless measurands (frequency and power
#: factor carry no unit in OCPP 1.6).
KNOWN_UNITS = frozenset(
    {
        "Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar",
        "A", "V", "K", "Celsius", "Fahrenheit", "Percent", "Hz", "s", "",
    }
)  # fmt: skip

#: OCPP 1.6 measurands (2.0.1 uses the same names for these).
KNOWN_MEASURANDS = frozenset(
    {
        "Current.Export", "Current.Import", "Current.Offered",
        "Energy.Active.Export.Register", "Energy.Active.Import.Register",
        "Energy.Reactive.Export.Register", "Energy.Reactive.Import.Register",
        "Energy.Active.Export.Interval", "Energy.Active.Import.Interval",
        "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval",
        "Frequency", "Power.Active.Export", "Power.Active.Import", "Power.Factor",
        "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import",
        "RPM", "SoC", "Temperature", "Voltage",
    }
)  # fmt: skip

KNOWN_PHASES = frozenset({"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"})

#: The Modbus limit on registers per read request (function codes 3 and 4).
MAX_READ_COUNT = 125


class ProfileError(ValueError):
    """A profile is invalid; ``key`` is the dotted TOML key at fault."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


class DeviceKind(enum.Enum):
    """What the actor does with the device: poll a meter, or also drive an EVSE controller."""

    METER = "meter"
    EVSE = "evse"


@dataclass(frozen=True, slots=True)
class RegisterPoint:
    """One value on a device: where it lives, how it is encoded, what it means."""

    name: str
    address: int
    function: RegisterFunction
    dtype: DataType
    word_order: WordOrder = WordOrder.BIG
    byte_order: ByteOrder = ByteOrder.BIG
    scale: float = 1.0
    unit: str = ""
    measurand: str | None = None
    phase: str | None = None

    def __post_init__(self) -> None:
        key = f"points.{self.name}"
        if not 0 <= self.address <= 0xFFFF or self.end > 0x10000:
            raise ProfileError(
                f"{key}.address",
                f"{self.dtype.value} at {self.address} needs registers {self.address}..{self.end - 1},"
                " outside 0..65535",
            )
        if self.scale == 0 or not math.isfinite(self.scale):
            raise ProfileError(f"{key}.scale", f"must be finite and non-zero, got {self.scale!r}")
        if self.unit not in KNOWN_UNITS:
            raise ProfileError(f"{key}.unit", f"unknown unit {self.unit!r}; known: {sorted(KNOWN_UNITS)}")
        if self.measurand is not None and self.measurand not in KNOWN_MEASURANDS:
            raise ProfileError(f"{key}.measurand", f"unknown OCPP measurand {self.measurand!r}")
        if self.phase is not None and self.phase not in KNOWN_PHASES:
            raise ProfileError(f"{key}.phase", f"unknown OCPP phase {self.phase!r}")

    @property
    def end(self) -> int:
        """One past the last register address this point occupies."""
        return self.address + self.dtype.register_count

    def decode(self, registers: list[int]) -> float:
        """Decode this point's registers into its engineering value."""
        return decode_scaled(registers, self.dtype, self.word_order, self.byte_order, self.scale)

    def encode(self, value: float) -> list[int]:
        """Encode an engineering value into this point's registers."""
        return encode_scaled(value, self.dtype, self.word_order, self.byte_order, self.scale)


@dataclass(frozen=True, slots=True)
class EvseControl:
    """The registers that drive an EVSE controller: a current setpoint and an optional enable flag."""

    setpoint: str
    min_current: float
    max_current: float
    enable: str | None = None
    enable_value: int = 1
    disable_value: int = 0


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request of a read plan and the points its answer holds."""

    function: RegisterFunction
    address: int
    count: int
    points: tuple[RegisterPoint, ...]


@dataclass(frozen=True)
class DeviceProfile:
    """A validated device description: its points, and for an EVSE its control registers."""

    name: str
    kind: DeviceKind
    points: tuple[RegisterPoint, ...]
    control: EvseControl | None = None
    max_gap: int = 0

    def __post_init__(self) -> None:
        if not self.points:
            raise ProfileError("points", "a profile needs at least one point")
        if not 0 <= self.max_gap < MAX_READ_COUNT:
            raise ProfileError("profile.max_gap", f"must be 0..{MAX_READ_COUNT - 1}, got {self.max_gap}")
        self._check_overlaps()
        self._check_control()

    def _check_overlaps(self) -> None:
        for function in RegisterFunction:
            ordered = sorted((p for p in self.points if p.function is function), key=lambda p: p.address)
            for before, after in itertools.pairwise(ordered):
                if after.address < before.end:
                    raise ProfileError(
                        f"points.{after.name}.address",
                        f"{function.value} registers {after.address}..{after.end - 1} overlap"
                        f" points.{before.name} ({before.address}..{before.end - 1})",
                    )

    def _check_control(self) -> None:
        if self.kind is DeviceKind.METER:
            if self.control is not None:
                raise ProfileError("control", "a meter profile has no control section; use kind = 'evse'")
            return
        if self.control is None:
            raise ProfileError("control", "an evse profile needs a control section with a setpoint")
        control = self.control
        for key, name in (("setpoint", control.setpoint), ("enable", control.enable)):
            if name is None:
                continue
            point = self.point(name)
            if point is None:
                raise ProfileError(f"control.{key}", f"names no point: {name!r}")
            if point.function is not RegisterFunction.HOLDING:
                raise ProfileError(
                    f"control.{key}", f"points.{name} must be a holding register to be written"
                )
        setpoint = self.point(control.setpoint)
        if setpoint is not None and setpoint.scale <= 0:
            raise ProfileError(f"points.{control.setpoint}.scale", "a setpoint needs a positive scale")
        if not 0 <= control.min_current <= control.max_current:
            raise ProfileError(
                "control.min_current",
                f"need 0 <= min_current <= max_current, got {control.min_current}..{control.max_current}",
            )

    def point(self, name: str) -> RegisterPoint | None:
        """The point with this name, or None."""
        for point in self.points:
            if point.name == name:
                return point
        return None

    def read_plan(self) -> tuple[ReadBlock, ...]:
        """Group the points into read requests: consecutive points of one table whose gap is at
        most ``max_gap`` registers share a request of at most 125 registers."""
        blocks: list[ReadBlock] = []
        for function in RegisterFunction:
            ordered = sorted((p for p in self.points if p.function is function), key=lambda p: p.address)
            current: list[RegisterPoint] = []
            for point in ordered:
                if current and (
                    point.address - current[-1].end > self.max_gap
                    or point.end - current[0].address > MAX_READ_COUNT
                ):
                    blocks.append(_block(function, current))
                    current = []
                current.append(point)
            if current:
                blocks.append(_block(function, current))
        return tuple(blocks)

    def setpoint_write(self, amps: float) -> tuple[int, list[int]]:
        """The register address and words that set the EVSE current to ``amps``.

        Zero is allowed (it pauses charging on IEC 61851 controllers); anything else must lie in
        ``min_current..max_current``. An integer register rounds down to its resolution, never up:
        a 31.9 A limit must not become 32 A on a 1 A register.
        """
        control, point = self._control_point("setpoint")
        if not math.isfinite(amps) or (amps != 0 and not control.min_current <= amps <= control.max_current):
            raise ValueError(
                f"{self.name}: setpoint {amps} A outside 0 or {control.min_current}..{control.max_current} A"
            )
        if not point.dtype.is_float:
            amps = math.floor(amps / point.scale + 1e-9) * point.scale
        return point.address, point.encode(amps)

    def enable_write(self, enabled: bool) -> tuple[int, list[int]]:
        """The register address and words that enable or disable charging."""
        control, point = self._control_point("enable")
        raw = control.enable_value if enabled else control.disable_value
        return point.address, encode_scaled(raw, point.dtype, point.word_order, point.byte_order)

    def _control_point(self, which: str) -> tuple[EvseControl, RegisterPoint]:
        name = None if self.control is None else getattr(self.control, which)
        point = None if name is None else self.point(name)
        if self.control is None or point is None:
            raise ValueError(f"{self.name}: profile has no {which} register")
        return self.control, point


def _block(function: RegisterFunction, points: list[RegisterPoint]) -> ReadBlock:
    start = points[0].address
    return ReadBlock(function, start, points[-1].end - start, tuple(points))


def decode_reading(answers: Mapping[ReadBlock, list[int]]) -> Reading:
    """Decode the registers each block of a read plan returned into one reading."""
    samples: list[Sample] = []
    for block, registers in answers.items():
        if len(registers) != block.count:
            raise ValueError(
                f"block at {block.address} expects {block.count} registers, got {len(registers)}"
            )
        for point in block.points:
            offset = point.address - block.address
            value = point.decode(registers[offset : offset + point.dtype.register_count])
            samples.append(Sample(point.name, value, point.unit, point.measurand, point.phase))
    return Reading(tuple(samples))
