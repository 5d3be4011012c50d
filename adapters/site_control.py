"""The ``ChargingControl`` port's implementation: OCPP stations through their command path, Modbus EVSE
controllers through their setpoint.

A connector bound to a Modbus EVSE controller (``[[modbus.devices]]`` with ``station`` and
``connector``) gets its current as the controller's setpoint, written and read back
(``ModbusDevices.set_current``); any other connector gets ``SetChargingProfile`` through
``Fleet.call``, which logs the command and its reply in the station's stream before answering (in
the shape of the station's own version: its dialect's ``requests.set_profile``). A
station that is offline, refuses, errs or does not answer in time is a :class:`ControlFailed`, which
the site actor counts and retries at its next round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import trio

from actors.commands import Command, CommandError
from actors.evse_controller import ControlResult
from actors.fleet import Fleet
from actors.sites.control import ControlFailed, Setpoint, allocation_request, failsafe_request
from actors.sites.model import ConnectorId
from adapters.modbus_fleet import ModbusDevices, UnknownDevice
from core.actor import ActorBusy, ActorStopped


class FleetControl:
    """SetChargingProfile for OCPP stations, setpoints for Modbus EVSE controllers."""

    def __init__(
        self,
        fleet: Fleet,
        controllers: Mapping[ConnectorId, str],
        modbus: Callable[[], ModbusDevices | None],
    ) -> None:
        self.fleet = fleet
        self.controllers = dict(controllers)  # connector -> EVSE controller device id
        self.modbus = modbus

    async def apply(self, setpoint: Setpoint) -> None:
        device = self.controllers.get(setpoint.connector)
        if device is None:
            await self._profile(setpoint.connector.station, allocation_request(setpoint))
            return
        modbus = self.modbus()
        if modbus is None:
            raise ControlFailed(f"EVSE controller {device!r}: the Modbus devices are not running")
        try:
            result: ControlResult = await modbus.set_current(device, setpoint.amps)
        except (UnknownDevice, ValueError, ActorStopped, ActorBusy, trio.TooSlowError) as error:
            raise ControlFailed(f"EVSE controller {device!r}: {error}") from None
        if not result.verified:
            raise ControlFailed(f"EVSE controller {device!r}: {result.outcome.value} {result.failure or ''}")

    async def secure(self, station: str, amps: float) -> None:
        await self._profile(station, failsafe_request(amps))

    async def _profile(self, station: str, payload: dict[str, Any]) -> None:
        dialect = self.fleet.dialect_of(station)
        if dialect is not None:
            payload = dialect.requests.set_profile(payload)
        try:
            reply = await self.fleet.call(station, Command("SetChargingProfile", payload))
        except (CommandError, ActorStopped, ActorBusy, trio.TooSlowError) as error:
            raise ControlFailed(f"{station}: {type(error).__name__}: {error}") from None
        if reply.get("status") != "Accepted":
            raise ControlFailed(f"{station}: SetChargingProfile {reply.get('status')}")
