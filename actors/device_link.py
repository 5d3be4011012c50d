"""What a meter or EVSE actor needs from the outside world, as Protocols and typed errors.

The actors poll devices and write setpoints without knowing whether the bytes travel over
Modbus TCP, RTU on a serial line, an RTU gateway or HTTP. The adapters implement these
Protocols; the actors catch :class:`DeviceLinkError` subclasses and turn them into events,
counters and a stale flag instead of dying.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class RegisterFunction(enum.Enum):
    """Which Modbus register table a value lives in, with its read function code."""

    HOLDING = "holding"
    INPUT = "input"

    @property
    def read_code(self) -> int:
        """The Modbus function code that reads this table (3 or 4)."""
        return 3 if self is RegisterFunction.HOLDING else 4


class DeviceLinkError(Exception):
    """Base class of every failure a device link reports; the caller's actor lives on."""


class DeviceExceptionResponse(DeviceLinkError):
    """The device answered with a Modbus exception code (e.g. 2 = illegal data address).

    The connection is fine; the request was refused.
    """

    def __init__(self, unit: int, function_code: int, exception_code: int) -> None:
        self.unit = unit
        self.function_code = function_code
        self.exception_code = exception_code
        super().__init__(
            f"unit {unit} answered function {function_code} with exception code {exception_code}"
        )


class DeviceTimeout(DeviceLinkError):
    """No complete answer arrived within the request timeout; the link was dropped to resynchronise."""


class DeviceDisconnected(DeviceLinkError):
    """The link is down (refused, closed, garbled or waiting out its reconnect backoff)."""


class RegisterLink(Protocol):
    """A Modbus line: one connection serving one or more unit ids, one request at a time."""

    async def read(self, unit: int, function: RegisterFunction, address: int, count: int) -> list[int]:
        """Read ``count`` registers starting at ``address``; raise a :class:`DeviceLinkError` on failure."""
        ...

    async def write(self, unit: int, address: int, values: list[int]) -> None:
        """Write holding registers starting at ``address``; raise a :class:`DeviceLinkError` on failure."""
        ...


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured value, labelled the way OCPP MeterValues labels it."""

    name: str
    value: float
    unit: str
    measurand: str | None
    phase: str | None


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything one poll of a meter returned; the actor stamps it with its clock."""

    samples: tuple[Sample, ...]

    def value_of(self, measurand: str, phase: str | None = None) -> float | None:
        """The first sample's value for a measurand and phase, or None when the meter lacks it."""
        for sample in self.samples:
            if sample.measurand == measurand and sample.phase == phase:
                return sample.value
        return None


class MeterSource(Protocol):
    """Anything the meter actor can poll: a Modbus meter, an HTTP meter."""

    async def poll(self) -> Reading:
        """Take one reading; raise a :class:`DeviceLinkError` on failure."""
        ...
