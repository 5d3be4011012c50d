"""The ``ChargingControl`` port: how a site actor's decisions reach the chargers, and the profiles it sends.

The site actor decides; the composition root wires an implementation of :class:`ChargingControl`
(``adapters.site_control``): SetChargingProfile through the station's command path for OCPP stations,
the current setpoint for Modbus EVSE controllers. Actors never import adapters, so the port lives here.

Profiles, as OCPP 1.6 ``SetChargingProfile.req`` payloads (:func:`allocation_request`,
:func:`failsafe_request`):

- the **failsafe**: a ``TxDefaultProfile`` on connector 0 (every connector of the station) at stack
  level 0, kind ``Relative``, at the site's ``failsafe_current``, with no end. It is what a connector
  draws whenever nothing newer applies: before the site is managed, and after a lost connection or a
  stopped site actor once the last allocation has lapsed.
- an **allocation**: a ``TxProfile`` for the running transaction (a ``TxDefaultProfile`` on the
  connector when it charges without a transaction the CSMS knows), stack level 1, ``Absolute`` from
  the round's time for ``valid_for`` seconds: unless the actor renews it, the connector falls back to
  the failsafe, so no allocation outlives the site actor for long. A connector the optimizer plans
  for (``actors.sites.planning``) gets the same profile with the plan's periods over that time (its
  present current, then lower steps where the plan goes down; never higher).

Profile ids are per connector (``ALLOCATION_PROFILE_ID + connector``), so each send replaces the last.
A 2.0.1 station takes the same profiles in its own shape (its dialect's ``requests.set_profile``: the
EVSE for the connector, as 2.0.1 events number them, and a list of schedules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from actors.charging import wire_time
from actors.events.refs import TransactionId
from actors.sites.model import ConnectorId

FAILSAFE_PROFILE_ID = 1_300_000
ALLOCATION_PROFILE_ID = 1_300_100  # + the connector's number
FAILSAFE_STACK_LEVEL = 0
ALLOCATION_STACK_LEVEL = 1


class ControlFailed(Exception):
    """A decision did not reach the charger, or the charger refused it."""


@dataclass(frozen=True, slots=True)
class Setpoint:
    """The current one connector may draw from ``start`` for ``valid_for`` seconds."""

    connector: ConnectorId
    amps: float  # A per phase; 0 pauses
    phases: int  # how many phases it draws on
    transaction: TransactionId | None  # the running transaction, when the CSMS knows one
    start: datetime
    valid_for: float
    periods: tuple[tuple[int, float], ...] = ()  # (s from start, A) when planned; () one period at amps


class ChargingControl(Protocol):
    async def apply(self, setpoint: Setpoint) -> None:
        """Put ``setpoint`` in force; raise :class:`ControlFailed` when it is not."""
        ...

    async def secure(self, station: str, amps: float) -> None:
        """Install the failsafe ``amps`` per connector on ``station``; :class:`ControlFailed` if not."""
        ...


def _schedule(amps: float, phases: int) -> dict[str, Any]:
    return {"chargingRateUnit": "A", "chargingSchedulePeriod": [_period(amps, phases)]}


def _period(amps: float, phases: int) -> dict[str, Any]:
    return {"startPeriod": 0, "limit": round(amps, 1), "numberPhases": phases}


def failsafe_request(amps: float, phases: int = 3) -> dict[str, Any]:
    return {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": FAILSAFE_PROFILE_ID,
            "stackLevel": FAILSAFE_STACK_LEVEL,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": _schedule(amps, phases),
        },
    }


def allocation_request(setpoint: Setpoint) -> dict[str, Any]:
    number = setpoint.connector.connector
    profile: dict[str, Any] = {
        "chargingProfileId": ALLOCATION_PROFILE_ID + number,
        "stackLevel": ALLOCATION_STACK_LEVEL,
        "chargingProfilePurpose": "TxProfile" if setpoint.transaction is not None else "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "duration": max(1, round(setpoint.valid_for)),
            "startSchedule": wire_time(setpoint.start),
            **_schedule(setpoint.amps, setpoint.phases),
        },
    }
    if setpoint.periods:
        profile["chargingSchedule"]["chargingSchedulePeriod"] = [
            {"startPeriod": offset, "limit": round(amps, 1), "numberPhases": setpoint.phases}
            for offset, amps in setpoint.periods
        ]
    if setpoint.transaction is not None:
        profile["transactionId"] = setpoint.transaction
    return {"connectorId": number, "csChargingProfiles": profile}
