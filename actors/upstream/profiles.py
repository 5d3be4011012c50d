"""An upstream's charging profiles for a station on a site: held as limits, so the site's cap holds.

A station of a ``[sites.<id>]`` draws what its site actor sends it: a ``TxProfile`` (or
``TxDefaultProfile``) at stack level 1, renewed every round (``actors.sites.control``). Relaying an
upstream SetChargingProfile of those purposes to the station as it is would let it override the site
(in OCPP the higher stack level wins, whatever its limit) or be overridden by it (the upstream's lower
limit lost). So such a profile is *held* instead: the link records it
(:class:`~actors.events.upstream.UpstreamProfileHeld`, with the profile's schedule turned into a
limit on wall-clock time), answers the upstream ``Accepted``, and the site actor, which reads the
link's stream, caps the connector at the upstream profile in force (OCPP precedence among the held
ones: a TxProfile over a TxDefaultProfile, the connector's own over connector 0's, the highest stack
level) in every round. The station then draws the minimum of both, and the site's cap always holds.

A ``ChargePointMaxProfile`` (2.0.1 ``ChargingStationMaxProfile``) is relayed unchanged: the station
itself combines it with the site's profiles by taking the lower, so it can only lower the draw.

A ClearChargingProfile lifts the held profiles it matches
(:class:`~actors.events.upstream.UpstreamProfilesCleared`); it reaches the station only when it
names the max purpose and no profile id (so it can never clear the site's own profiles).

Schedules, read as ``actors.charging.composite`` reads a station's own: each period lasts until the
next and the last until ``duration`` ends; ``validFrom`` / ``validTo`` bound the profile. ``Absolute``
runs from ``startSchedule`` (its ``limit`` is exact on wall-clock time). ``Relative``, and ``Absolute``
without ``startSchedule`` ("relative to the start of charging"), runs from the start of the
connector's transaction, each transaction anew for a TxDefaultProfile, and from when the profile
arrived while the connector has none. ``Recurring`` runs from ``startSchedule`` (when the profile
arrived, if absent) and again every day (``Daily``) or week (``Weekly``) after it, never before it,
each recurrence for ``duration`` or until the next. The profiles that run from a transaction's start
or recur are held with their ``cycle`` (:class:`~actors.events.upstream.UpstreamProfileHeld`), which
the site evaluates at each round (``actors.sites.upstream``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from actors.charging import parse_time, wire_time
from actors.charging.model import Recurrency
from actors.events.upstream import UpstreamProfileHeld, UpstreamProfilesCleared

HELD_PURPOSES = ("TxProfile", "TxDefaultProfile")
MAX_PURPOSES = ("ChargePointMaxProfile", "ChargingStationMaxProfile")
SOURCE = "fleet_operator"


class ProfileError(ValueError):
    """A SetChargingProfile whose profile cannot be read."""


def held_profile(payload: dict[str, Any], now: datetime) -> UpstreamProfileHeld | None:
    """The profile a SetChargingProfile request (1.6 or 2.0.1 shape) holds for the site, or None when
    it is a max profile to relay to the station; :class:`ProfileError` when it cannot be read."""
    if "csChargingProfiles" in payload:  # 1.6
        profile, connector = payload["csChargingProfiles"], payload.get("connectorId")
        schedule = profile.get("chargingSchedule")
        purpose, kind = profile.get("chargingProfilePurpose"), profile.get("chargingProfileKind")
    elif "chargingProfile" in payload:  # 2.0.1
        profile, connector = payload["chargingProfile"], payload.get("evseId")
        schedules = profile.get("chargingSchedule")
        schedule = schedules[0] if isinstance(schedules, list) and schedules else None
        purpose, kind = profile.get("chargingProfilePurpose"), profile.get("chargingProfileKind")
    else:
        raise ProfileError("no charging profile in the request")
    if purpose in MAX_PURPOSES:
        return None
    if purpose not in HELD_PURPOSES:
        raise ProfileError(f"unknown chargingProfilePurpose {purpose!r}")
    if not isinstance(connector, int) or connector < 0 or not isinstance(schedule, dict):
        raise ProfileError("a profile needs a connector (EVSE) >= 0 and a charging schedule")
    unit = schedule.get("chargingRateUnit")
    periods = schedule.get("chargingSchedulePeriod")
    if unit not in ("A", "W") or not isinstance(periods, list) or not periods:
        raise ProfileError("a schedule needs chargingRateUnit A or W and at least one period")
    steps: list[tuple[int, float]] = []
    for period in periods:
        offset, limit = period.get("startPeriod"), period.get("limit")
        if not isinstance(offset, int) or not isinstance(limit, int | float) or limit < 0:
            raise ProfileError(f"bad chargingSchedulePeriod {period!r}")
        steps.append((offset, float(limit)))
    steps.sort()
    limit_data: dict[str, Any] = {"source": SOURCE, "unit": unit}
    valid_from, valid_to = _moment(profile.get("validFrom")), _moment(profile.get("validTo"))
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        raise ProfileError("the profile ends before it starts")
    if kind not in ("Absolute", "Relative", "Recurring"):
        raise ProfileError(f"unknown chargingProfileKind {kind!r}")
    distinct = _distinct(steps)
    duration = schedule.get("duration")
    duration = duration if isinstance(duration, int) and duration > 0 else None
    start = _moment(schedule.get("startSchedule")) if kind != "Relative" else None
    cycle: dict[str, Any] | None = None
    if kind == "Recurring" or start is None:  # runs from a start the site finds at each round
        recurrence = None
        if kind == "Recurring":
            try:
                recurrence = Recurrency(profile.get("recurrencyKind")).seconds
            except ValueError:
                raise ProfileError("a Recurring profile needs recurrencyKind Daily or Weekly") from None
        cycle = {
            "unit": unit,
            "start": wire_time(start or now),
            "periods": [[o, v] for o, v in distinct],
            "duration": duration,
            "recurrence": recurrence,
            "valid_from": None if valid_from is None else wire_time(valid_from),
            "valid_until": None if valid_to is None else wire_time(valid_to),
        }
    # With a cycle, ``limit`` is for a build that does not read it: never above what the profile asks.
    valid_until = valid_to
    if kind == "Recurring":
        limit_data["value"] = min(v for _, v in distinct)
    else:
        start = start or now
        limit_data["schedule"] = [[wire_time(start + timedelta(seconds=o)), v] for o, v in distinct]
        if duration is not None and cycle is None:
            end = start + timedelta(seconds=duration)
            valid_until = end if valid_until is None else min(valid_until, end)
    if valid_from is not None:
        limit_data["valid_from"] = wire_time(valid_from)
    if valid_until is not None:
        if valid_from is not None and valid_until <= valid_from:
            raise ProfileError("the profile ends before it starts")
        limit_data["valid_until"] = wire_time(valid_until)
    profile_id, stack_level = profile.get("chargingProfileId", profile.get("id")), profile.get("stackLevel")
    if not isinstance(profile_id, int) or not isinstance(stack_level, int):
        raise ProfileError("a profile needs an integer id and stackLevel")
    transaction = profile.get("transactionId")
    return UpstreamProfileHeld(
        connector=connector,
        profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        limit=limit_data,
        transaction=transaction if purpose == "TxProfile" and transaction is not None else None,
        cycle=cycle,
    )


def cleared_profiles(payload: dict[str, Any]) -> tuple[UpstreamProfilesCleared, bool]:
    """What a ClearChargingProfile request (1.6 or 2.0.1 shape) lifts among the held profiles, and
    whether it is also for the station (it names the max purpose and no profile id)."""
    criteria = payload.get("chargingProfileCriteria") or {}
    profile_id = payload.get("id", payload.get("chargingProfileId"))
    connector = payload.get("connectorId", criteria.get("evseId"))
    purpose = payload.get("chargingProfilePurpose", criteria.get("chargingProfilePurpose"))
    stack_level = payload.get("stackLevel", criteria.get("stackLevel"))
    cleared = UpstreamProfilesCleared(
        profile_id=profile_id, connector=connector, purpose=purpose, stack_level=stack_level
    )
    return cleared, profile_id is None and purpose in MAX_PURPOSES


def _distinct(steps: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """One step per start: the lowest limit given for it (a malformed schedule never raises a limit)."""
    lowest: dict[int, float] = {}
    for offset, limit in steps:
        lowest[offset] = min(limit, lowest.get(offset, limit))
    return sorted(lowest.items())


def _moment(text: object) -> datetime | None:
    if text is None:
        return None
    found = parse_time(text) if isinstance(text, str) else None
    if found is None or found.utcoffset() is None:
        raise ProfileError(f"not an RFC 3339 date-time with an offset: {text!r}")
    return found
