"""The upstream CSMS's profiles held for a site's stations, and the cap they put on each connector.

When chargeward is a local controller, a SetChargingProfile from the upstream for a station on a site
is not sent to the station but held (``actors.upstream.profiles``): the link records it in
``upstream/<station>``, and the site view folds those events here. Each round caps a connector at the
held profile in force for it, chosen as a station would among its own profiles: a ``TxProfile`` for
its running transaction over a ``TxDefaultProfile``, the connector's own over connector 0's (every
connector), the highest stack level among those; its limit is read at the round's time. A TxProfile
ends with its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from actors.charging import Unit
from actors.events.refs import TransactionId
from actors.events.upstream import UpstreamProfileHeld, UpstreamProfilesCleared
from actors.sites.limits import SourceLimit


@dataclass(frozen=True, slots=True)
class HeldProfile:
    event: UpstreamProfileHeld
    limit: SourceLimit


@dataclass(slots=True)
class HeldProfiles:
    """One station's held upstream profiles, by profile id (a new one with the same id replaces it)."""

    profiles: dict[int, HeldProfile] = field(default_factory=dict)

    def hold(self, event: UpstreamProfileHeld, limit: SourceLimit) -> None:
        """Hold ``event``'s profile, whose limit is ``limit``."""
        for other in [i for i, held in self.profiles.items() if _replaces(event, held.event)]:
            del self.profiles[other]
        self.profiles[event.profile_id] = HeldProfile(event, limit)

    def clear(self, event: UpstreamProfilesCleared) -> bool:
        """Lift the profiles ``event`` matches; True when one was held."""
        gone = [i for i, held in self.profiles.items() if _matches(event, held.event)]
        for profile_id in gone:
            del self.profiles[profile_id]
        return bool(gone)

    def ended(self, connector: int) -> bool:
        """The transaction on ``connector`` ended: its TxProfiles go; True when one did."""
        gone = [
            i
            for i, held in self.profiles.items()
            if held.event.purpose == "TxProfile" and held.event.connector == connector
        ]
        for profile_id in gone:
            del self.profiles[profile_id]
        return bool(gone)

    def cap(
        self, connector: int, transaction: TransactionId | None, moment: datetime
    ) -> tuple[float, Unit] | None:
        """The limit the held profiles put on ``connector`` at ``moment`` (None: no cap)."""

        def best(purpose: str, on: int) -> tuple[float, Unit] | None:
            found: tuple[int, float, Unit] | None = None
            for held in self.profiles.values():
                event = held.event
                if event.purpose != purpose or event.connector != on:
                    continue
                if purpose == "TxProfile" and (
                    transaction is None
                    or (event.transaction is not None and event.transaction != transaction)
                ):
                    continue
                value = held.limit.at(moment)
                if value is not None and (found is None or event.stack_level > found[0]):
                    found = (event.stack_level, value, held.limit.unit)
            return None if found is None else (found[1], found[2])

        return (
            best("TxProfile", connector) or best("TxDefaultProfile", connector) or best("TxDefaultProfile", 0)
        )


def _replaces(new: UpstreamProfileHeld, old: UpstreamProfileHeld) -> bool:
    """OCPP: a profile replaces one with the same id, or with the same stack level and purpose on the
    same connector."""
    return old.profile_id == new.profile_id or (
        old.stack_level == new.stack_level and old.purpose == new.purpose and old.connector == new.connector
    )


def _matches(clear: UpstreamProfilesCleared, held: UpstreamProfileHeld) -> bool:
    if clear.profile_id is not None:
        return held.profile_id == clear.profile_id
    return (
        (clear.connector is None or clear.connector == held.connector)
        and (clear.purpose is None or clear.purpose == held.purpose)
        and (clear.stack_level is None or clear.stack_level == held.stack_level)
    )
