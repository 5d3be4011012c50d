"""The EVSE-controller actor: writes a current setpoint or the enable flag, reads it back, logs both.

One actor per controller, stream ``evse/<device_id>``. It polls the controller's status registers
like a meter (through :class:`~actors.meter.DevicePoller`, so staleness and backoff behave the
same) and, between polls, carries out control requests one at a time:

``EvseControlRequested`` -> write -> ``EvseControlWritten`` -> read the same registers back ->
``EvseControlReadBack`` and ``EvseControlVerified`` (the device holds the words written) or
``EvseControlMismatched`` (it clamped or ignored them). A write or read-back that fails is an
``EvseControlFailed`` naming the stage. Each step is committed before the next one starts and the
caller is answered only after the verdict is committed, so nothing reported is missing from the log.
A request the profile cannot express (out of range, no enable register) is refused with a
ValueError before anything reaches the device.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import trio

from actors.device_link import DeviceLinkError, DeviceTimeout, RegisterFunction, RegisterLink
from actors.device_profile import DeviceProfile, RegisterPoint
from actors.events.modbus import (
    EvseControlFailed,
    EvseControlMismatched,
    EvseControlReadBack,
    EvseControlRequested,
    EvseControlVerified,
    EvseControlWritten,
)
from actors.meter import (
    DeviceDeps,
    DevicePoller,
    InspectDevice,
    MeterBinding,
    PollingActor,
    PollSettings,
    ProfilePoller,
    describe_failure,
)
from actors.registers import decode_raw
from core.actor import Reply


class Outcome(enum.Enum):
    """How a control request ended; a closed set, so it is a safe metric label."""

    VERIFIED = "verified"
    MISMATCHED = "mismatched"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ControlResult:
    """The answer to a control request. ``actual`` is what the device holds after it, when read back."""

    what: str  # "current" or "enabled"
    requested: float
    outcome: Outcome
    actual: float | None = None
    failure: str | None = None  # FailureKind value when outcome is FAILED

    @property
    def verified(self) -> bool:
        return self.outcome is Outcome.VERIFIED


@dataclass(frozen=True, slots=True)
class SetCurrent:
    """Set the charging current in amps (0 pauses charging)."""

    amps: float
    reply: Reply[ControlResult]


@dataclass(frozen=True, slots=True)
class SetEnabled:
    """Enable or disable charging."""

    enabled: bool
    reply: Reply[ControlResult]


EvseMessage = SetCurrent | SetEnabled | InspectDevice


class EvseControllerActor(PollingActor[EvseMessage]):
    """Drives one EVSE controller; see the module docstring."""

    def __init__(
        self,
        device_id: str,
        link: RegisterLink,
        unit: int,
        profile: DeviceProfile,
        settings: PollSettings,
        deps: DeviceDeps,
        binding: MeterBinding | None = None,
    ) -> None:
        if profile.control is None:
            raise ValueError(f"profile {profile.name!r} is a {profile.kind.value}, not an evse")
        self.link = link
        self.unit = unit
        self.profile = profile
        self.control = profile.control
        self.deadline = settings.deadline
        self.device = DevicePoller(
            device_id, f"evse/{device_id}", ProfilePoller(link, unit, profile), settings, deps, binding
        )

    async def receive(self, message: EvseMessage) -> None:
        if isinstance(message, InspectDevice):
            message.reply.send(self.device.snapshot())
            return
        name: str | None
        try:
            if isinstance(message, SetCurrent):
                what, value, name = "current", float(message.amps), self.control.setpoint
                address, words = self.profile.setpoint_write(value)
            else:
                what, value, name = "enabled", float(message.enabled), self.control.enable
                address, words = self.profile.enable_write(message.enabled)
        except ValueError as exc:
            message.reply.fail(exc)
            return
        point = self.profile.point(name or "")
        assert point is not None, "setpoint_write/enable_write checked the control point exists"
        message.reply.send(await self._control(what, value, point, address, words))

    def _held(self, what: str, point: RegisterPoint, read: list[int]) -> float:
        """What the registers read back mean: amps, or 1.0/0.0 for enabled/disabled."""
        if what == "current":
            return point.decode(read)
        raw = decode_raw(read, point.dtype, point.word_order, point.byte_order)
        return 1.0 if raw == self.control.enable_value else 0.0

    async def _control(
        self, what: str, value: float, point: RegisterPoint, address: int, words: list[int]
    ) -> ControlResult:
        device = self.device
        stats = device.deps.stats
        clock = device.deps.clock
        await device.append([EvseControlRequested(what=what, value=value, address=address, words=words)])
        started = clock.monotonic()
        stage = "write"
        try:
            with trio.fail_after(self.deadline):
                await self.link.write(self.unit, address, words)
            latency = clock.monotonic() - started
            written = EvseControlWritten(
                what=what, value=value, address=address, words=words, latency_s=latency
            )
            await device.append([written])
            stage = "read_back"
            with trio.fail_after(self.deadline):
                read = await self.link.read(self.unit, RegisterFunction.HOLDING, address, len(words))
        except (DeviceLinkError, trio.TooSlowError) as exc:
            error = exc if isinstance(exc, DeviceLinkError) else DeviceTimeout(f"{stage} took too long")
            kind, detail = describe_failure(error)
            failed = EvseControlFailed(what=what, value=value, stage=stage, kind=kind.value, **detail)
            await device.append([failed])
            stats.controls[(device.device_id, what, Outcome.FAILED.value)] += 1
            stats.errors[(device.device_id, kind.value)] += 1
            return ControlResult(what, value, Outcome.FAILED, failure=kind.value)
        actual = self._held(what, point, read)
        back = EvseControlReadBack(what=what, address=address, words=read, value=actual)
        verdict: EvseControlVerified | EvseControlMismatched
        if read == words:
            outcome = Outcome.VERIFIED
            verdict = EvseControlVerified(what=what, value=actual)
        else:
            outcome = Outcome.MISMATCHED
            verdict = EvseControlMismatched(
                what=what, requested=value, actual=actual, written=words, read=read
            )
        await device.append([back, verdict])
        stats.controls[(device.device_id, what, outcome.value)] += 1
        return ControlResult(what, value, outcome, actual)
