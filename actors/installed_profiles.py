"""The charging profiles a station has installed on one connector, folded from its events.

One pure fold (no trio, no store) used by the connector view, which the connector actors and the
live projection both run, and by the live projection for connector 0 (profiles for the whole
station), so an actor and the operator's view cannot disagree about which limits are in force.

The rules are OCPP 1.6's (3.13 and SetChargingProfile/ClearChargingProfile):
- a profile replaces any installed profile with the same ``chargingProfileId``, on any connector,
  and any on its own connector with the same stack level and purpose;
- ``ClearChargingProfile`` with an id clears that profile wherever it is; otherwise it clears what
  matches every criterion given (``connectorId`` 0 is the station itself; no ``connectorId`` means
  every connector);
- a ``TxProfile`` holds for its transaction only: it ends when that transaction stops.

Every connector must see every ``ChargingProfileSet`` and ``ChargingProfileCleared`` of its
station (and every ``TransactionStopped``), not only those naming it: see :data:`ALWAYS_CONCERN`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors import event_types as ev

Profile = dict[str, Any]

# Events that may change a connector's profiles without naming that connector.
ALWAYS_CONCERN = frozenset({ev.CHARGING_PROFILE_SET, ev.CHARGING_PROFILE_CLEARED, ev.TRANSACTION_STOPPED})

_TX_PROFILE = "TxProfile"


def fold(profiles: list[Profile], connector: int, kind: str, data: Mapping[str, Any]) -> list[Profile] | None:
    """The profiles of ``connector`` after the event (``kind``, ``data``); None when it changes nothing."""
    if kind == ev.CHARGING_PROFILE_SET:
        return _set(profiles, connector, data)
    if kind == ev.CHARGING_PROFILE_CLEARED:
        return _changed(profiles, [p for p in profiles if not _cleared(p, connector, data["criteria"])])
    if kind == ev.TRANSACTION_STOPPED:
        return _changed(profiles, [p for p in profiles if not _ended(p, connector, data)])
    return None


def _set(profiles: list[Profile], connector: int, data: Mapping[str, Any]) -> list[Profile] | None:
    new = data["profile"]
    ident = new.get("chargingProfileId")
    here = data["connector"] == connector
    kept = [
        p
        for p in profiles
        if p.get("chargingProfileId") != ident
        and not (
            here
            and (p.get("stackLevel"), p.get("chargingProfilePurpose"))
            == (new.get("stackLevel"), new.get("chargingProfilePurpose"))
        )
    ]
    if here:
        return [*kept, dict(new)]
    return _changed(profiles, kept)


def _cleared(profile: Profile, connector: int, criteria: Mapping[str, Any]) -> bool:
    if criteria.get("id") is not None:
        return bool(profile.get("chargingProfileId") == criteria["id"])
    if criteria.get("connectorId") not in (None, connector):
        return False
    checks = {"chargingProfilePurpose": "chargingProfilePurpose", "stackLevel": "stackLevel"}
    return all(profile.get(field) == criteria[key] for key, field in checks.items() if key in criteria)


def _ended(profile: Profile, connector: int, stop: Mapping[str, Any]) -> bool:
    if profile.get("chargingProfilePurpose") != _TX_PROFILE:
        return False
    tied = profile.get("transactionId")
    if tied is not None:
        return bool(tied == stop.get("transaction_id"))
    return stop.get("connector") == connector


def _changed(before: list[Profile], after: list[Profile]) -> list[Profile] | None:
    return after if len(after) != len(before) else None
