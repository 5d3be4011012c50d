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
- a ``TxProfile`` holds for its transaction only: it ends when that transaction stops, and when the
  station boots (a reboot ends whatever transaction was running; 1.6 lets a station drop its
  TxProfiles then, so the record drops them too rather than claim limits that may be gone).

Every connector must see every ``ChargingProfileSet`` and ``ChargingProfileCleared`` of its
station (and every ``TransactionStopped`` and ``StationBooted``), not only those naming it: see
:data:`ALWAYS_CONCERN`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actors.events import Event
from actors.events.station import (
    ChargingProfileCleared,
    ChargingProfileSet,
    StationBooted,
    TransactionStopped,
)

Profile = dict[str, Any]

# Events that may change a connector's profiles without naming that connector.
ALWAYS_CONCERN: frozenset[type[Event]] = frozenset(
    {ChargingProfileSet, ChargingProfileCleared, TransactionStopped, StationBooted}
)

_TX_PROFILE = "TxProfile"


def fold(profiles: list[Profile], connector: int, event: Event) -> list[Profile] | None:
    """The profiles of ``connector`` after ``event``; None when it changes nothing."""
    handler = _FOLDS.get(type(event))
    return None if handler is None else handler(profiles, connector, event)


def _set(profiles: list[Profile], connector: int, event: ChargingProfileSet) -> list[Profile] | None:
    new = event.profile
    ident = new.get("chargingProfileId")
    here = event.connector == connector
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


def _clear(profiles: list[Profile], connector: int, event: ChargingProfileCleared) -> list[Profile] | None:
    return _changed(profiles, [p for p in profiles if not _cleared(p, connector, event.criteria)])


def _stop(profiles: list[Profile], connector: int, event: TransactionStopped) -> list[Profile] | None:
    return _changed(profiles, [p for p in profiles if not _ended(p, connector, event)])


def _boot(profiles: list[Profile], connector: int, event: StationBooted) -> list[Profile] | None:
    return _changed(profiles, [p for p in profiles if p.get("chargingProfilePurpose") != _TX_PROFILE])


def _cleared(profile: Profile, connector: int, criteria: Mapping[str, Any]) -> bool:
    if criteria.get("id") is not None:
        return bool(profile.get("chargingProfileId") == criteria["id"])
    if criteria.get("connectorId") not in (None, connector):
        return False
    checks = {"chargingProfilePurpose": "chargingProfilePurpose", "stackLevel": "stackLevel"}
    return all(profile.get(field) == criteria[key] for key, field in checks.items() if key in criteria)


def _ended(profile: Profile, connector: int, stop: TransactionStopped) -> bool:
    if profile.get("chargingProfilePurpose") != _TX_PROFILE:
        return False
    tied = profile.get("transactionId")
    if tied is not None:
        return bool(tied == stop.transaction_id)
    return stop.connector == connector


def _changed(before: list[Profile], after: list[Profile]) -> list[Profile] | None:
    return after if len(after) != len(before) else None


_FOLDS: dict[type[Event], Callable[[list[Profile], int, Any], list[Profile] | None]] = {
    ChargingProfileSet: _set,
    ChargingProfileCleared: _clear,
    TransactionStopped: _stop,
    StationBooted: _boot,
}
