"""OCPP 1.6 MeterValues into flat samples in one SI unit per quantity.

A ``meterValue[]`` array nests sampled values under timestamps and leaves most fields optional.
:func:`normalise_meter_values` flattens it into :class:`Sample` records with the 1.6 defaults
filled in (measurand ``Energy.Active.Import.Register``, context ``Sample.Periodic``, location
``Outlet``, format ``Raw``) and every value converted to the canonical unit of its quantity, so
that projections and site load management never see ``kWh`` next to ``Wh``:

==================================  ===========  ===================================
measurands                          unit         accepted units
==================================  ===========  ===================================
Energy.Active.*                     Wh           Wh, kWh
Energy.Reactive.*                   varh         varh, kvarh
Power.Active.*, Power.Offered       W            W, kW
Power.Reactive.*                    var          var, kvar
Current.*                           A            A
Voltage                             V            V
Frequency                           Hertz        Hertz, Hz
Temperature                         Celsius      Celsius, Celcius, K, Fahrenheit
SoC                                 Percent      Percent
Power.Factor, RPM                   (none)       none
==================================  ===========  ===================================

The 1.6 default unit ``Wh`` only makes sense for energy; for other measurands a missing unit
means the measurand's own unit (chargers send Frequency without one). Apparent power (VA, kVA)
is accepted for Power.Offered and Power.Active.* in VA; the connector keeps it as ``power_va``,
never as watts.

``SignedData`` values are kept as raw text (:class:`SignedSample`), not parsed. A value that does
not parse, an unknown measurand or a unit that does not measure the measurand is reported as a
:class:`MeterProblem`, never raised, and the other samples of the frame are kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_LOCATION = "Outlet"
DEFAULT_FORMAT = "Raw"

_MEASURAND_UNITS: dict[str, str] = {
    **dict.fromkeys(
        (
            "Energy.Active.Export.Register",
            "Energy.Active.Import.Register",
            "Energy.Active.Export.Interval",
            "Energy.Active.Import.Interval",
        ),
        "Wh",
    ),
    **dict.fromkeys(
        (
            "Energy.Reactive.Export.Register",
            "Energy.Reactive.Import.Register",
            "Energy.Reactive.Export.Interval",
            "Energy.Reactive.Import.Interval",
        ),
        "varh",
    ),
    **dict.fromkeys(("Power.Active.Export", "Power.Active.Import", "Power.Offered"), "W"),
    **dict.fromkeys(("Power.Reactive.Export", "Power.Reactive.Import"), "var"),
    **dict.fromkeys(("Current.Import", "Current.Export", "Current.Offered"), "A"),
    "Voltage": "V",
    "Frequency": "Hertz",
    "Temperature": "Celsius",
    "SoC": "Percent",
    "Power.Factor": "",
    "RPM": "",
}

_APPARENT_POWER = frozenset({"Power.Active.Export", "Power.Active.Import", "Power.Offered"})


def _scale(factor: float) -> Callable[[float], float]:
    return lambda value: value * factor


_UNITS: dict[str, tuple[str, Callable[[float], float]]] = {
    "Wh": ("Wh", _scale(1.0)),
    "kWh": ("Wh", _scale(1000.0)),
    "varh": ("varh", _scale(1.0)),
    "kvarh": ("varh", _scale(1000.0)),
    "W": ("W", _scale(1.0)),
    "kW": ("W", _scale(1000.0)),
    "VA": ("VA", _scale(1.0)),
    "kVA": ("VA", _scale(1000.0)),
    "var": ("var", _scale(1.0)),
    "kvar": ("var", _scale(1000.0)),
    "A": ("A", _scale(1.0)),
    "V": ("V", _scale(1.0)),
    "Hertz": ("Hertz", _scale(1.0)),
    "Hz": ("Hertz", _scale(1.0)),
    "Celsius": ("Celsius", _scale(1.0)),
    "Celcius": ("Celsius", _scale(1.0)),
    "K": ("Celsius", lambda kelvin: kelvin - 273.15),
    "Fahrenheit": ("Celsius", lambda fahrenheit: (fahrenheit - 32.0) * 5.0 / 9.0),
    "Percent": ("Percent", _scale(1.0)),
}

_DECIMAL = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")


class Sample(NamedTuple):
    """One measured value in its canonical unit (see the module table).

    A named tuple, not a frozen dataclass: ten of these are built for every MeterValues, and a frozen
    dataclass sets each field through ``object.__setattr__`` (a noticeable share of the hot path).
    """

    timestamp: str
    measurand: str
    phase: str | None
    unit: str
    context: str
    location: str
    value: float


class SignedSample(NamedTuple):
    """A ``SignedData`` value, kept as the raw text the meter signed."""

    timestamp: str
    measurand: str
    phase: str | None
    unit: str | None
    context: str
    location: str
    raw: str


@dataclass(frozen=True, slots=True)
class MeterProblem:
    """A sampled value that could not be turned into a sample, and why."""

    path: str
    raw: Any
    reason: str


@dataclass(frozen=True, slots=True)
class MeterReadings:
    """Everything one ``meterValue[]`` array held."""

    samples: tuple[Sample, ...]
    signed: tuple[SignedSample, ...]
    problems: tuple[MeterProblem, ...]


def normalise_meter_values(meter_value: Sequence[Any]) -> MeterReadings:
    """Flatten and normalise an OCPP 1.6 ``meterValue`` array; never raises on bad values."""
    samples: list[Sample] = []
    signed: list[SignedSample] = []
    problems: list[MeterProblem] = []
    for i, entry in enumerate(meter_value):
        path = f"$.meterValue[{i}]"
        timestamp = entry.get("timestamp") if isinstance(entry, dict) else None
        sampled = entry.get("sampledValue") if isinstance(entry, dict) else None
        if not isinstance(timestamp, str) or not isinstance(sampled, list):
            problems.append(MeterProblem(path, entry, "needs a timestamp string and a sampledValue list"))
            continue
        for j, value in enumerate(sampled):
            where = f"{path}.sampledValue[{j}]"
            if not isinstance(value, dict):
                problems.append(MeterProblem(where, value, "sampled value is not an object"))
                continue
            outcome = _sample(timestamp, value)
            if isinstance(outcome, str):
                problems.append(MeterProblem(where, value, outcome))
            elif isinstance(outcome, SignedSample):
                signed.append(outcome)
            else:
                samples.append(outcome)
    return MeterReadings(tuple(samples), tuple(signed), tuple(problems))


def _sample(timestamp: str, sampled: dict[str, Any]) -> Sample | SignedSample | str:
    """The sample, or the reason there is none."""
    measurand = sampled.get("measurand", DEFAULT_MEASURAND)
    phase = sampled.get("phase")
    context = sampled.get("context", DEFAULT_CONTEXT)
    location = sampled.get("location", DEFAULT_LOCATION)
    unit = sampled.get("unit")
    raw = sampled.get("value")
    if not isinstance(raw, str):
        return "value must be a string"
    if measurand not in _MEASURAND_UNITS:
        return f"{measurand!r} is not an OCPP 1.6 measurand"
    if sampled.get("format", DEFAULT_FORMAT) == "SignedData":
        return SignedSample(timestamp, measurand, phase, unit, context, location, raw)
    wanted = _MEASURAND_UNITS[measurand]
    if unit is None:
        canonical, convert = wanted, _scale(1.0)
    elif unit in _UNITS:
        canonical, convert = _UNITS[unit]
        apparent = canonical == "VA" and measurand in _APPARENT_POWER
        if canonical != wanted and not apparent:
            return f"unit {unit!r} does not measure {measurand}"
    else:
        return f"{unit!r} is not an OCPP 1.6 unit"
    if not _DECIMAL.match(raw):
        return f"value {raw!r} is not a decimal number"
    number = convert(float(raw))
    if not math.isfinite(number):
        return f"value {raw!r} is out of range"
    return Sample(timestamp, measurand, phase, canonical, context, location, number)
