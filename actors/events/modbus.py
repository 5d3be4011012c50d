"""Events of Modbus devices' streams (``meter/<id>``, ``evse/<id>``).

Every poll is exactly one :class:`ModbusReading` or :class:`ModbusPollFailed`; both carry the poll's
``latency_s`` and the device's binding (``station``, ``connector``, ``site``; each left out when not
bound). Values are in unprefixed units; ``raw`` holds the registers of each read request
(``[{function, address, registers}]``) and samples are ``{name, value, unit, measurand, phase}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from actors.events.registry import OMITTED_WHEN_NONE, Event, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusReading(Event):
    TYPE: ClassVar[str] = "ModbusReading"
    latency_s: float
    station: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    connector: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    site: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    samples: list[dict[str, Any]]
    raw: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusPollFailed(Event):
    """``kind``: timeout, exception (with the device's codes), disconnected, invalid; ``missed``: in a row."""

    TYPE: ClassVar[str] = "ModbusPollFailed"
    latency_s: float
    station: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    connector: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    site: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    kind: str
    detail: str
    missed: int
    exception_code: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    function_code: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusDeviceStale(Event):
    """``missed``: polls missed in a row (the device's stale_after)."""

    TYPE: ClassVar[str] = "ModbusDeviceStale"
    missed: int


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusDeviceRecovered(Event):
    """``missed``: polls missed before this answer."""

    TYPE: ClassVar[str] = "ModbusDeviceRecovered"
    missed: int


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EvseControlRequested(Event):
    """``what``: "current" (amps) or "enabled" (1.0/0.0); ``words``: the registers to write."""

    TYPE: ClassVar[str] = "EvseControlRequested"
    what: str
    value: float
    address: int
    words: list[int]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EvseControlWritten(Event):
    TYPE: ClassVar[str] = "EvseControlWritten"
    what: str
    value: float
    address: int
    words: list[int]
    latency_s: float


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EvseControlReadBack(Event):
    TYPE: ClassVar[str] = "EvseControlReadBack"
    what: str
    address: int
    words: list[int]
    value: float


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EvseControlVerified(Event):
    TYPE: ClassVar[str] = "EvseControlVerified"
    what: str
    value: float


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EvseControlMismatched(Event):
    TYPE: ClassVar[str] = "EvseControlMismatched"
    what: str
    requested: float
    actual: float
    written: list[int]
    read: list[int]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EvseControlFailed(Event):
    """``stage``: "write" or "read_back"; ``kind``/``detail`` as for a failed poll."""

    TYPE: ClassVar[str] = "EvseControlFailed"
    what: str
    value: float
    stage: str
    kind: str
    detail: str
    exception_code: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    function_code: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
