"""What the server intends a station to have, folded from its stream: the state reconciliation restores.

Three things an operator sets through chargeward and a station may lose when it reboots:

- charging profiles (accepted SetChargingProfile, less what accepted ClearChargingProfiles removed,
  with the station's replace rules: the fold in ``actors.installed_profiles``). ``TxProfile``s are
  not kept: they belong to a transaction, which a reboot ends;
- configuration keys set with an accepted ChangeConfiguration (the last value per key);
- the local authorisation list: the version of the last accepted SendLocalList and the entries a
  ``Full`` list set and ``Differential`` ones updated (an entry without ``idTagInfo``, or 2.0.1's
  ``idTokenInfo``, is removed).

Profiles and the list are kept in 1.6's shapes; a 2.0.1 list entry is kept whole (its id token has a
type 1.6 has no field for). The dialect's ``Requests`` turn them into the station's version's requests.

Pure and small, so the station actor keeps it in its state (and its snapshots) at no cost per frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors import installed_profiles
from actors.commands import AUTHORIZATION_KEY
from actors.events import Event
from actors.events.station import (
    ChargingProfileCleared,
    ChargingProfileSet,
    ConfigurationChanged,
    LocalListSent,
)

_TX_PROFILE = "TxProfile"


@dataclass(slots=True)
class DesiredState:
    profiles: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by connector, in order set
    configuration: dict[str, str] = field(default_factory=dict)
    local_list_version: int | None = None
    # id token -> 1.6's idTagInfo, or a 2.0.1 entry whole ({"idToken": {...}, "idTokenInfo": {...}})
    local_list: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing intended: no profile, no configuration key, no local list sent."""
        return not self.profiles and not self.configuration and self.local_list_version is None

    def set_charging_profiles(self) -> list[dict[str, Any]]:
        """The SetChargingProfile requests that install every intended profile, in the order set."""
        return [
            {"connectorId": connector, "csChargingProfiles": profile}
            for connector in sorted(self.profiles)
            for profile in self.profiles[connector]
        ]

    def send_local_list(self) -> dict[str, Any] | None:
        """The SendLocalList request that sets the whole intended list, or None when none was sent."""
        if self.local_list_version is None:
            return None
        entries = [
            info if "idToken" in info else {"idTag": tag, "idTagInfo": info}
            for tag, info in sorted(self.local_list.items())
        ]
        return {
            "listVersion": self.local_list_version,
            "updateType": "Full",
            "localAuthorizationList": entries,
        }


def fold(desired: DesiredState, event: Event) -> None:
    """Apply one event of the station's stream (in place: it runs on every frame's commit)."""
    handler = _FOLDS.get(type(event))
    if handler is not None:
        handler(desired, event)


def _profiles(desired: DesiredState, event: ChargingProfileSet | ChargingProfileCleared) -> None:
    if isinstance(event, ChargingProfileSet):
        if event.profile.get("chargingProfilePurpose") == _TX_PROFILE:
            return
        desired.profiles.setdefault(event.connector, [])
    for connector in list(desired.profiles):
        after = installed_profiles.fold(desired.profiles[connector], connector, event)
        if after is not None:
            desired.profiles[connector] = after
        if not desired.profiles[connector]:
            del desired.profiles[connector]


def _configuration(desired: DesiredState, event: ConfigurationChanged) -> None:
    if event.key == AUTHORIZATION_KEY:
        return  # the log holds the password's hash, not the password: nothing to re-apply
    desired.configuration[event.key] = event.value


def _local_list(desired: DesiredState, event: LocalListSent) -> None:
    if event.update_type == "Full":
        desired.local_list = {}
    for entry in event.entries:
        token = entry.get("idToken")
        if isinstance(token, dict):  # 2.0.1
            tag, info = token.get("idToken"), dict(entry) if entry.get("idTokenInfo") else None
        else:
            tag, info = entry.get("idTag"), entry.get("idTagInfo")
        if not isinstance(tag, str):
            continue
        if info is None:
            desired.local_list.pop(tag, None)
        else:
            desired.local_list[tag] = dict(info)
    desired.local_list_version = event.version


_FOLDS: dict[type[Event], Callable[[DesiredState, Any], None]] = {
    ChargingProfileSet: _profiles,
    ChargingProfileCleared: _profiles,
    ConfigurationChanged: _configuration,
    LocalListSent: _local_list,
}
