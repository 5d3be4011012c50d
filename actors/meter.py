"""The meter actor: one per Modbus (or HTTP) meter, polling it and logging every poll as an event.

Three layers, thinnest at the top:

- :class:`PollSchedule` is the sans-I/O heart: fed ``now`` and the outcome of each poll, it says
  when to poll next (fixed rate while the device answers, exponential backoff while it does not)
  and when the device turns stale (``stale_after`` missed polls in a row) or recovers.
- :class:`DevicePoller` runs one poll against a :class:`Poller`, appends exactly one event for it
  (a reading or a failure) plus a transition event when the schedule reports one, and keeps the
  :class:`ModbusStats` the metrics exporter reads. The EVSE-controller actor reuses it.
- :class:`MeterActor` is the trio loop: wait for the next poll or a message, whichever comes first.

A device that refuses, answers too slowly or not at all costs an event, a counter and in the end
a stale flag; the actor never dies of it. Only a store failure escapes (and the supervisor
restarts the actor, which resumes from the tail of its stream).
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import trio

from actors.connector import ConnectorMessage, ModbusSample
from actors.device_link import (
    DeviceExceptionResponse,
    DeviceLinkError,
    DeviceTimeout,
    Reading,
    RegisterFunction,
    RegisterLink,
    Sample,
)
from actors.device_profile import DeviceProfile, ReadBlock, decode_reading
from actors.events import Event, events_of, new_events
from actors.events.modbus import (
    ModbusDeviceRecovered,
    ModbusDeviceStale,
    ModbusPollFailed,
    ModbusReading,
)
from core.actor import Actor, ActorRef, Reply
from core.clock import Clock
from core.events import EventRecord, check_stream
from core.mailbox import Mailbox
from core.store import EventStore

M = TypeVar("M")

#: The fastest poll interval a device may be configured with.
MIN_INTERVAL = 0.1

# -- what a poll returns ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawBlock:
    """The registers one read request returned, kept verbatim in the reading event."""

    function: RegisterFunction
    address: int
    registers: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        registers = list(self.registers)
        return {"function": self.function.read_code, "address": self.address, "registers": registers}


@dataclass(frozen=True, slots=True)
class Polled:
    """One successful poll: the decoded reading and the raw registers it came from (empty over HTTP)."""

    reading: Reading
    raw: tuple[RawBlock, ...] = ()


class Poller(Protocol):
    """Takes one reading of a device; raises :class:`DeviceLinkError` (or ValueError on bad data).

    A :class:`~actors.device_link.MeterSource` without registers (the Shelly meter) becomes one by
    returning ``Polled(await source.poll())``.
    """

    async def __call__(self) -> Polled: ...


class ProfilePoller:
    """Polls one unit on a register link by its profile's read plan, keeping the raw registers."""

    def __init__(self, link: RegisterLink, unit: int, profile: DeviceProfile) -> None:
        self.link = link
        self.unit = unit
        self.profile = profile
        self._plan = profile.read_plan()

    async def __call__(self) -> Polled:
        answers: dict[ReadBlock, list[int]] = {}
        for block in self._plan:
            answers[block] = await self.link.read(self.unit, block.function, block.address, block.count)
        raw = tuple(RawBlock(b.function, b.address, tuple(words)) for b, words in answers.items())
        return Polled(decode_reading(answers), raw)


# -- failures ---------------------------------------------------------------------------------------


class FailureKind(enum.Enum):
    """Why a poll failed; a closed set, so it is a safe metric label."""

    EXCEPTION = "exception"  # the device answered with a Modbus exception code
    TIMEOUT = "timeout"  # no complete answer in time
    DISCONNECTED = "disconnected"  # refused, closed, garbled, or the line is backing off
    INVALID = "invalid"  # an answer that does not decode (wrong register count, bad value)


def describe_failure(error: Exception) -> tuple[FailureKind, dict[str, Any]]:
    """The kind of a poll or write failure and the event fields that detail it."""
    detail: dict[str, Any] = {"detail": str(error) or type(error).__name__}
    if isinstance(error, DeviceExceptionResponse):
        detail |= {"exception_code": error.exception_code, "function_code": error.function_code}
        return FailureKind.EXCEPTION, detail
    if isinstance(error, DeviceTimeout):
        return FailureKind.TIMEOUT, detail
    if isinstance(error, DeviceLinkError):
        return FailureKind.DISCONNECTED, detail
    return FailureKind.INVALID, detail


# -- the schedule (sans-I/O) ------------------------------------------------------------------------


class Transition(enum.Enum):
    """A change of the device's health that gets an event of its own."""

    STALE = "stale"
    RECOVERED = "recovered"


class PollSchedule:
    """When to poll next and whether the device is stale, from poll outcomes and ``now`` only.

    While the device answers, polls keep a fixed rate (``first_at + k * interval``); a poll that
    overran one or more ticks skips them (counted in :attr:`skipped`) rather than bunching up.
    After ``n`` failures in a row the next poll waits ``min(max_backoff, interval * 2**(n-1))``,
    so a gone device costs one event per backoff step, not one per interval. The device is stale
    exactly while ``missed >= stale_after``.
    """

    def __init__(
        self,
        interval: float,
        first_at: float,
        *,
        stale_after: int = 3,
        max_backoff: float = 30.0,
        missed: int = 0,
    ) -> None:
        if not math.isfinite(interval) or interval < MIN_INTERVAL:
            raise ValueError(f"interval must be at least {MIN_INTERVAL} s, got {interval!r}")
        if stale_after < 1:
            raise ValueError(f"stale_after must be at least 1, got {stale_after!r}")
        if not max_backoff >= interval:
            raise ValueError(f"max_backoff must be at least the interval, got {max_backoff!r}")
        self.interval = interval
        self.stale_after = stale_after
        self.max_backoff = max_backoff
        self.next_at = first_at
        self.missed = missed
        self.skipped = 0

    @property
    def stale(self) -> bool:
        return self.missed >= self.stale_after

    def succeeded(self, now: float) -> Transition | None:
        """Record an answered poll that finished at ``now``; RECOVERED if the device was stale."""
        was_stale = self.stale
        if self.missed:
            self.next_at = now + self.interval  # realign after a backoff
        else:
            ticks = max(1, math.floor((now - self.next_at) / self.interval) + 1)
            if self.next_at + ticks * self.interval <= now:
                ticks += 1  # the division rounded down onto ``now`` itself
            self.skipped += ticks - 1
            self.next_at += ticks * self.interval
        self.missed = 0
        return Transition.RECOVERED if was_stale else None

    def failed(self, now: float) -> Transition | None:
        """Record a failed poll that finished at ``now``; STALE when this miss makes the device stale."""
        self.missed += 1
        self.next_at = now + min(self.max_backoff, self.interval * 2.0 ** min(self.missed - 1, 60))
        return Transition.STALE if self.missed == self.stale_after else None


# -- stats ------------------------------------------------------------------------------------------

#: Called with (device id, seconds) after every poll, answered or not.
PollObserver = Callable[[str, float], None]


@dataclass
class ModbusStats:
    """Counters and gauges of every Modbus device of a process, keyed by device id (bounded by config).

    Latency goes to :attr:`poll_latency_observers` so the exporter can feed a histogram without
    this layer knowing Prometheus.
    """

    polls: Counter[str] = field(default_factory=Counter)  # device -> polls (readings + failures)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (device, kind): polls + controls
    skipped_polls: Counter[str] = field(default_factory=Counter)  # ticks lost to overrunning polls
    stale: dict[str, bool] = field(default_factory=dict)  # device -> stale now
    last_values: dict[str, tuple[Sample, ...]] = field(default_factory=dict)  # device -> last reading
    last_reading_at: dict[str, float] = field(default_factory=dict)  # device -> unix time
    controls: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (device, what, outcome)
    connector_dropped: Counter[str] = field(default_factory=Counter)  # samples a full connector refused
    poll_latency_observers: list[PollObserver] = field(default_factory=list)

    def observe_poll(self, device_id: str, seconds: float) -> None:
        for observer in self.poll_latency_observers:
            observer(device_id, seconds)

    def stale_devices(self) -> list[str]:
        return sorted(device for device, stale in self.stale.items() if stale)


# -- the poller shared by the meter and EVSE actors -------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollSettings:
    """How one device is polled. ``deadline`` bounds a whole poll, queueing on a shared line included."""

    interval: float = 1.0
    stale_after: int = 3
    max_backoff: float = 30.0
    deadline: float = 5.0
    phase: float = 0.0  # delay of the first poll, to spread many devices over the interval


@dataclass(frozen=True, slots=True)
class MeterBinding:
    """What a meter measures: a station connector, a site's grid connection, or both."""

    station: str | None = None
    connector: int | None = None
    site: str | None = None

    def __post_init__(self) -> None:
        if (self.station is None) != (self.connector is None):
            raise ValueError("a meter tied to a station needs both station and connector")
        if self.connector is not None and self.connector < 1:
            raise ValueError(f"connector must be 1 or more, got {self.connector}")


#: Finds (and starts on first use) a connector actor, as ``Fleet.connector`` does.
ConnectorRefs = Callable[[str, int], ActorRef[ConnectorMessage]]


@dataclass(frozen=True, slots=True)
class DeviceDeps:
    """What every device actor of a process shares."""

    store: EventStore
    clock: Clock
    stats: ModbusStats
    connectors: ConnectorRefs | None = None


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """A device actor's answer to :class:`InspectDevice`."""

    device_id: str
    stream: str
    version: int
    stale: bool
    missed: int
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class InspectDevice:
    reply: Reply[DeviceSnapshot]


#: Prefixed units a profile may declare, and the unprefixed unit events carry instead.
_UNPREFIXED = {"kWh": "Wh", "kvarh": "varh", "kW": "W", "kVA": "VA", "kvar": "var"}


def in_base_units(sample: Sample) -> Sample:
    """The sample in unprefixed units (kWh -> Wh, kW -> W, ...), as events and the connector expect."""
    base = _UNPREFIXED.get(sample.unit)
    if base is None:
        return sample
    return Sample(sample.name, sample.value * 1000.0, base, sample.measurand, sample.phase)


def sample_dict(sample: Sample) -> dict[str, Any]:
    return {
        "name": sample.name,
        "value": sample.value,
        "unit": sample.unit,
        "measurand": sample.measurand,
        "phase": sample.phase,
    }


def _sample_of(data: Mapping[str, Any]) -> Sample:
    return Sample(data["name"], float(data["value"]), data["unit"], data["measurand"], data["phase"])


class DevicePoller:
    """One device's stream, schedule and polls; see the module docstring."""

    def __init__(
        self,
        device_id: str,
        stream: str,
        poller: Poller,
        settings: PollSettings,
        deps: DeviceDeps,
        binding: MeterBinding | None = None,
    ) -> None:
        self.device_id = device_id
        self.stream = check_stream(stream)
        self.poller = poller
        self.settings = settings
        self.deps = deps
        self.binding = binding or MeterBinding()
        self.version = 0
        self.samples: tuple[Sample, ...] = ()
        self.schedule = self._schedule(missed=0)

    def _schedule(self, missed: int) -> PollSchedule:
        return PollSchedule(
            self.settings.interval,
            self.deps.clock.monotonic() + self.settings.phase,
            stale_after=self.settings.stale_after,
            max_backoff=self.settings.max_backoff,
            missed=missed,
        )

    async def restore(self) -> None:
        """Resume from the stream's tail: its version, the misses in a row, the last reading."""
        self.version = await self.deps.store.stream_version(self.stream)
        tail = await self.deps.store.read_stream(self.stream, after=max(0, self.version - 8))
        missed = 0
        for record in tail:
            for event in events_of(record):
                if isinstance(event, ModbusReading):
                    missed = 0
                    self.samples = tuple(_sample_of(s) for s in event.samples)
                elif isinstance(event, ModbusPollFailed):
                    missed = event.missed
        self.schedule = self._schedule(missed)
        self.deps.stats.stale[self.device_id] = self.schedule.stale
        if self.samples:
            self.deps.stats.last_values[self.device_id] = self.samples

    async def append(self, events: list[Event]) -> list[EventRecord]:
        """Append events to the device's stream (expecting its version: one writer per stream)."""
        records = await self.deps.store.append(
            new_events(self.stream, events, self.deps.clock.wall()), expected={self.stream: self.version}
        )
        self.version = records[-1].sequence
        return records

    async def poll(self) -> None:
        """Poll once and log it: one reading or failure event, plus a stale/recovered event."""
        clock = self.deps.clock
        started = clock.monotonic()
        polled: Polled | None = None
        error: Exception | None = None
        try:
            with trio.fail_after(self.settings.deadline):
                polled = await self.poller()
        except trio.TooSlowError:
            error = DeviceTimeout(f"poll took longer than {self.settings.deadline} s")
        except (DeviceLinkError, ValueError) as exc:
            error = exc
        now = clock.monotonic()
        latency = now - started
        stats = self.deps.stats
        events: list[Event] = []
        binding = self.binding
        missed_before, skipped_before = self.schedule.missed, self.schedule.skipped
        if polled is not None:
            transition = self.schedule.succeeded(now)
            readings = tuple(in_base_units(s) for s in polled.reading.samples)
            reading = ModbusReading(
                latency_s=latency,
                station=binding.station,
                connector=binding.connector,
                site=binding.site,
                samples=[sample_dict(s) for s in readings],
                raw=[b.as_dict() for b in polled.raw],
            )
            events.append(reading)
        else:
            assert error is not None
            transition = self.schedule.failed(now)
            kind, detail = describe_failure(error)
            failure = ModbusPollFailed(
                latency_s=latency,
                station=binding.station,
                connector=binding.connector,
                site=binding.site,
                kind=kind.value,
                missed=self.schedule.missed,
                **detail,
            )
            events.append(failure)
        if transition is Transition.STALE:
            events.append(ModbusDeviceStale(missed=self.schedule.missed))
        elif transition is Transition.RECOVERED:
            events.append(ModbusDeviceRecovered(missed=missed_before))
        records = await self.append(events)
        # Counted only once committed: the metrics never run ahead of the log.
        stats.polls[self.device_id] += 1
        stats.skipped_polls[self.device_id] += self.schedule.skipped - skipped_before
        stats.stale[self.device_id] = self.schedule.stale
        stats.observe_poll(self.device_id, latency)
        if polled is None:
            stats.errors[(self.device_id, kind.value)] += 1
            return
        self.samples = readings
        stats.last_values[self.device_id] = self.samples
        stats.last_reading_at[self.device_id] = records[0].time.timestamp()
        self._tell_connector(reading, records[0].time)

    def _tell_connector(self, reading: ModbusReading, time: datetime) -> None:
        station, connector = self.binding.station, self.binding.connector
        if station is None or connector is None or self.deps.connectors is None:
            return
        ref = self.deps.connectors(station, connector)
        if not ref.try_send(ModbusSample(reading, time)):
            self.deps.stats.connector_dropped[self.device_id] += 1

    def snapshot(self) -> DeviceSnapshot:
        return DeviceSnapshot(
            self.device_id, self.stream, self.version, self.schedule.stale, self.schedule.missed, self.samples
        )


async def next_message(inbox: Mailbox[Any], deadline: float) -> Any | None:
    """The next message, or None when ``deadline`` (trio time) comes first."""
    with trio.move_on_at(deadline):
        return await inbox.get()
    return None


class PollingActor(Actor[M]):
    """An actor that polls its device on schedule and handles its messages in between."""

    device: DevicePoller

    async def started(self) -> None:
        await self.device.restore()

    async def run(self, inbox: Mailbox[M]) -> None:
        await self.started()
        while True:
            message = await next_message(inbox, self.device.schedule.next_at)
            if message is None:
                await self.device.poll()
            else:
                await self.receive(message)


class MeterActor(PollingActor[InspectDevice]):
    """Polls one meter on its schedule (stream ``meter/<device_id>``) and answers inspections."""

    def __init__(
        self,
        device_id: str,
        poller: Poller,
        settings: PollSettings,
        deps: DeviceDeps,
        binding: MeterBinding | None = None,
    ) -> None:
        self.device = DevicePoller(device_id, f"meter/{device_id}", poller, settings, deps, binding)

    async def receive(self, message: InspectDevice) -> None:
        message.reply.send(self.device.snapshot())
