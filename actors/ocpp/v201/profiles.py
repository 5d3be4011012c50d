"""OCPP 2.0.1 charging profiles, limits and schedules in the version-neutral shape, and back.

The server's record of installed profiles (``actors.installed_profiles``), the composite schedule
(``actors.charging``) and reconciliation read one shape: 1.6's ``csChargingProfiles``. A 2.0.1
profile maps onto it field by field:

- ``id`` is ``chargingProfileId``; ``ChargingStationMaxProfile`` is ``ChargePointMaxProfile``; an
  EVSE id is the connector id (0: the station as a whole), as everywhere in the 2.0.1 dialect;
- ``transactionId`` stays the station's string;
- ``chargingSchedule`` is a list in 2.0.1 (more than one only when an ISO 15118 vehicle is offered a
  choice); the record keeps the first, the one a station without 15118 applies. What 1.6 has no
  field for (the schedule's ``id``, a period's ``phaseToUse``, ``salesTariff``) is left out; sent
  again (reconciliation), a profile's schedule takes the profile's id as its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TO_NEUTRAL_PURPOSE = {"ChargingStationMaxProfile": "ChargePointMaxProfile"}
_TO_201_PURPOSE = {neutral: own for own, neutral in _TO_NEUTRAL_PURPOSE.items()}
_SCHEDULE_KEYS = ("startSchedule", "duration", "chargingRateUnit", "minChargingRate")
_PROFILE_KEYS = (
    "stackLevel",
    "chargingProfileKind",
    "recurrencyKind",
    "validFrom",
    "validTo",
    "transactionId",
)


def neutral_purpose(purpose: str) -> str:
    return _TO_NEUTRAL_PURPOSE.get(purpose, purpose)


def neutral_periods(periods: Any) -> list[dict[str, Any]]:
    return [
        {k: period[k] for k in ("startPeriod", "limit", "numberPhases") if k in period} for period in periods
    ]


def neutral_schedule(schedule: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.0.1 ``ChargingScheduleType`` as a 1.6 ``chargingSchedule``."""
    out = {k: schedule[k] for k in _SCHEDULE_KEYS if k in schedule}
    out["chargingSchedulePeriod"] = neutral_periods(schedule["chargingSchedulePeriod"])
    return out


def neutral_profile(profile: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.0.1 ``ChargingProfileType`` as a 1.6 ``csChargingProfiles`` (see the module docstring)."""
    out: dict[str, Any] = {"chargingProfileId": profile["id"]}
    out.update({k: profile[k] for k in _PROFILE_KEYS if k in profile})
    out["chargingProfilePurpose"] = neutral_purpose(profile["chargingProfilePurpose"])
    out["chargingSchedule"] = neutral_schedule(profile["chargingSchedule"][0])
    return out


def profile_201(neutral: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded (neutral) profile as the 2.0.1 ``chargingProfile`` that installs it again."""
    out: dict[str, Any] = {"id": neutral["chargingProfileId"]}
    out.update({k: neutral[k] for k in _PROFILE_KEYS if k in neutral})
    purpose = neutral["chargingProfilePurpose"]
    out["chargingProfilePurpose"] = _TO_201_PURPOSE.get(purpose, purpose)
    out["chargingSchedule"] = [{"id": neutral["chargingProfileId"], **neutral["chargingSchedule"]}]
    return out


def neutral_clear_criteria(request: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.0.1 ClearChargingProfile request as the criteria 1.6's names (``id``, ``connectorId``...)."""
    criteria = request.get("chargingProfileCriteria") or {}
    out: dict[str, Any] = {}
    if request.get("chargingProfileId") is not None:
        out["id"] = request["chargingProfileId"]
    if "evseId" in criteria:
        out["connectorId"] = criteria["evseId"]
    if "chargingProfilePurpose" in criteria:
        out["chargingProfilePurpose"] = neutral_purpose(criteria["chargingProfilePurpose"])
    if "stackLevel" in criteria:
        out["stackLevel"] = criteria["stackLevel"]
    return out


def composite_request(connector: int, duration: int, unit: str) -> dict[str, Any]:
    """The 2.0.1 GetCompositeSchedule asking for what a 1.6 one for ``connector`` asks."""
    return {"evseId": connector, "duration": duration, "chargingRateUnit": unit}


def composite_conf(reply: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.0.1 GetCompositeSchedule reply in the shape of a 1.6 GetCompositeSchedule.conf."""
    out: dict[str, Any] = {"status": reply.get("status")}
    schedule = reply.get("schedule")
    if isinstance(schedule, Mapping):
        out["connectorId"] = schedule.get("evseId")
        out["scheduleStart"] = schedule.get("scheduleStart")
        out["chargingSchedule"] = {
            "duration": schedule.get("duration"),
            "chargingRateUnit": schedule.get("chargingRateUnit"),
            "chargingSchedulePeriod": neutral_periods(schedule.get("chargingSchedulePeriod", [])),
        }
    return out
