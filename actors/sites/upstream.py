"""The upstream CSMS's profiles held for a site's stations, and the cap they put on each connector.

When chargeward is a local controller, a SetChargingProfile from the upstream for a station on a site
is not sent to the station but held (``actors.upstream.profiles``): the link records it in
``upstream/<station>``, and the site view folds those events here. Each round caps a connector at the
held profile in force for it, chosen as a station would among its own profiles: a ``TxProfile`` for
its running transaction over a ``TxDefaultProfile``, the connector's own over connector 0's (every
connector), the highest stack level among those; its limit is read at the round's time. A TxProfile
ends with its transaction.

A profile held with a ``cycle`` (Relative, Absolute without a start, Recurring: see
``actors.upstream.profiles``) is a :class:`CycleLimit`, read at the round's time against the start of
the connector's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from actors.charging import Unit, parse_time
from actors.events.refs import TransactionId
from actors.events.upstream import UpstreamProfileHeld, UpstreamProfilesCleared
from actors.sites.limits import LimitError, SourceLimit


@dataclass(frozen=True, slots=True)
class CycleLimit:
    """The limit of a profile that runs from its connector's transaction start or recurs.

    ``periods``: (seconds from the run's start, value), in order. A run starts at the connector's
    transaction start (``recurrence`` None; at ``start`` while there is no transaction), or at
    ``start`` and every ``recurrence`` seconds after it, never before. A run lasts ``duration``
    seconds (or until the next recurrence); outside a run, and outside ``valid_from`` ..
    ``valid_until``, the profile does not apply."""

    unit: Unit
    periods: tuple[tuple[float, float], ...]
    start: datetime
    duration: float | None = None
    recurrence: float | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @classmethod
    def of(cls, cycle: dict[str, Any]) -> CycleLimit:
        """Read from :attr:`UpstreamProfileHeld.cycle`; :class:`LimitError` when it does not parse."""
        try:
            start = _time(cycle["start"])
            if start is None:
                raise ValueError("no start")
            return cls(
                Unit(cycle["unit"]),
                tuple((float(offset), float(value)) for offset, value in cycle["periods"]),
                start,
                cycle.get("duration"),
                cycle.get("recurrence"),
                _time(cycle.get("valid_from")),
                _time(cycle.get("valid_until")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise LimitError(f"an unreadable cycle: {error}") from error

    def at(self, moment: datetime, started: datetime | None) -> float | None:
        """The value at ``moment`` for a connector whose transaction started at ``started`` (None:
        none runs), or None when the profile does not apply then."""
        if self.valid_from is not None and moment < self.valid_from:
            return None
        if self.valid_until is not None and moment >= self.valid_until:
            return None
        origin = self.start if self.recurrence is not None or started is None else started
        elapsed = (moment - origin).total_seconds()
        if elapsed < 0:
            return None
        if self.recurrence is not None:
            elapsed %= self.recurrence
        if self.duration is not None and elapsed >= self.duration:
            return None
        found = None
        for offset, value in self.periods:
            if offset > elapsed:
                break
            found = value
        return found


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    found = parse_time(text)
    if found is None:
        raise ValueError(f"not a time: {text!r}")
    return found


@dataclass(frozen=True, slots=True)
class HeldProfile:
    event: UpstreamProfileHeld
    limit: SourceLimit | CycleLimit

    def at(self, moment: datetime, started: datetime | None) -> float | None:
        if isinstance(self.limit, CycleLimit):
            return self.limit.at(moment, started)
        return self.limit.at(moment)


@dataclass(slots=True)
class HeldProfiles:
    """One station's held upstream profiles, by profile id (a new one with the same id replaces it)."""

    profiles: dict[int, HeldProfile] = field(default_factory=dict)

    def hold(self, event: UpstreamProfileHeld, limit: SourceLimit | CycleLimit) -> None:
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
        self,
        connector: int,
        transaction: TransactionId | None,
        moment: datetime,
        started: datetime | None = None,
    ) -> tuple[float, Unit] | None:
        """The limit the held profiles put on ``connector`` at ``moment`` (None: no cap); ``started``:
        when its ``transaction`` started."""

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
                value = held.at(moment, started)
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
