"""Profiles as a station receives them, a slow instant-by-instant reference, and hypothesis strategies.

The reference (:func:`reference_at`) reads the rules of ``actors.charging.composite`` one instant at
a time with plain datetime arithmetic, so the sweep there can be checked against it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from actors.charging import (
    CompositeSchedule,
    Electrical,
    InstalledProfile,
    Kind,
    Purpose,
    Transaction,
    Unit,
    convert,
)

T0 = datetime(2026, 11, 27, tzinfo=UTC)


def at(hours: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, seconds=seconds)


def wire(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def request(
    ident: int,
    periods: list[tuple[int, float]] | list[tuple[int, float, int]],
    *,
    connector: int = 1,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    stack: int = 0,
    unit: str = "A",
    duration: int | None = None,
    start: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A SetChargingProfile request payload."""
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            {"startPeriod": p[0], "limit": p[1], **({"numberPhases": p[2]} if len(p) > 2 else {})}
            for p in periods
        ],
    }
    if duration is not None:
        schedule["duration"] = duration
    if start is not None:
        schedule["startSchedule"] = wire(start)
    for key in ("minChargingRate",):
        if key in extra:
            schedule[key] = extra.pop(key)
    for key in ("validFrom", "validTo"):
        if isinstance(extra.get(key), datetime):
            extra[key] = wire(extra[key])
    return {
        "connectorId": connector,
        "csChargingProfiles": {
            "chargingProfileId": ident,
            "stackLevel": stack,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind,
            "chargingSchedule": schedule,
            **extra,
        },
    }


def limits(schedule: CompositeSchedule) -> list[tuple[int, float | None]]:
    return [(p.start, None if p.limit is None else float(p.limit)) for p in schedule.periods]


def composite_at(schedule: CompositeSchedule, seconds: float) -> tuple[Decimal | None, int]:
    """The composite's limit and phases ``seconds`` after its start."""
    found = None
    for period in schedule.periods:
        if period.start <= seconds:
            found = period
    assert found is not None and seconds < schedule.duration
    return found.limit, found.phases


def profile_at(
    held: InstalledProfile,
    moment: datetime,
    window_start: datetime,
    transaction: Transaction | None,
    unit: Unit,
    electrical: Electrical,
) -> tuple[Fraction, int] | None:
    """One profile's limit (in ``unit``) and phases at ``moment``, None where it does not apply."""
    profile = held.profile
    if profile.valid_from is not None and moment < profile.valid_from:
        return None
    if profile.valid_to is not None and moment >= profile.valid_to:
        return None
    schedule = profile.schedule
    origin = transaction.start if transaction is not None else window_start
    if profile.purpose is Purpose.CHARGE_POINT_MAX:
        origin = window_start
    if profile.kind is Kind.RECURRING:
        assert schedule.start is not None and profile.recurrency is not None
        every = timedelta(seconds=profile.recurrency.seconds)
        if moment < schedule.start:
            return None
        anchor = schedule.start + ((moment - schedule.start) // every) * every
    elif profile.kind is Kind.ABSOLUTE and schedule.start is not None:
        anchor = schedule.start
    else:
        anchor = origin
    elapsed = (moment - anchor).total_seconds()
    if elapsed < 0 or (schedule.duration is not None and elapsed >= schedule.duration):
        return None
    current = [p for p in schedule.periods if p.start <= elapsed][-1]
    phases = current.phases or electrical.phases
    return convert(current.limit, schedule.unit, unit, phases, electrical), phases


def reference_at(
    installed: list[InstalledProfile],
    connector: int,
    moment: datetime,
    window_start: datetime,
    unit: Unit,
    electrical: Electrical,
    transaction: Transaction | None = None,
) -> tuple[Fraction | None, int] | None:
    """The limit and phases at ``moment`` by the rules, read directly; None where nothing applies."""

    def winner(candidates: list[tuple[tuple[int, ...], InstalledProfile]]) -> tuple[Fraction, int] | None:
        for _, held in sorted(candidates, key=lambda c: c[0], reverse=True):
            found = profile_at(held, moment, window_start, transaction, unit, electrical)
            if found is not None:
                return found
        return None

    order = {id(h): i for i, h in enumerate(installed)}
    caps = [
        ((h.profile.stack_level, order[id(h)]), h)
        for h in installed
        if h.profile.purpose is Purpose.CHARGE_POINT_MAX
    ]
    cap = winner(caps)
    charge = None
    if connector != 0:
        if transaction is not None and moment >= transaction.start:
            mine = [
                ((h.profile.stack_level, order[id(h)]), h)
                for h in installed
                if h.profile.purpose is Purpose.TX
                and h.connector == connector
                and h.profile.transaction_id in (None, transaction.id)
            ]
            charge = winner(mine)
        if charge is None:
            defaults = [
                ((h.profile.stack_level, int(h.connector != 0), order[id(h)]), h)
                for h in installed
                if h.profile.purpose is Purpose.TX_DEFAULT and h.connector in (0, connector)
            ]
            charge = winner(defaults)
    found = [f for f in (cap, charge) if f is not None]
    if not found:
        return None
    return min(f[0] for f in found), min(f[1] for f in found)


def tenths_down(value: Fraction) -> Decimal:
    return (Decimal(math.floor(value * 10)) / 10).quantize(Decimal("0.1"))


# Strategies: whole seconds, windows of up to two days, daily recurrences among them.

HOUR = 3600
limits_a = st.integers(0, 630).map(lambda n: n / 10)
limits_w = st.integers(0, 440).map(lambda n: n * 100.0)


@st.composite
def profile_requests(draw: st.DrawFn, ident: int, purpose: str | None = None) -> dict[str, Any]:
    purpose = purpose or draw(st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]))
    fixed = {"ChargePointMaxProfile": 0, "TxProfile": 1}.get(purpose)
    connector = draw(st.sampled_from([0, 1])) if fixed is None else fixed
    kind = draw(st.sampled_from(["Absolute", "Relative", "Recurring"]))
    unit = draw(st.sampled_from(["A", "W"]))
    count = draw(st.integers(1, 4))
    starts = [0]
    for _ in range(count - 1):
        starts.append(starts[-1] + draw(st.integers(1, 6)) * 900)
    recurring = kind == "Recurring"
    if recurring:
        starts = [s for s in starts if s < 86_400]
    duration = draw(st.none() | st.integers(starts[-1] // 900 + 1, 40).map(lambda n: n * 900))
    periods = [
        (
            s,
            draw(limits_a if unit == "A" else limits_w),
            *([p] if (p := draw(st.sampled_from([None, 1, 3]))) else []),
        )
        for s in starts
    ]
    extra: dict[str, Any] = {}
    if recurring:
        extra["recurrencyKind"] = "Daily"
    if purpose == "TxProfile" and draw(st.booleans()):
        extra["transactionId"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        extra["validFrom"] = at(draw(st.integers(-24, 30)))
    if draw(st.booleans()):
        extra["validTo"] = at(draw(st.integers(31, 60)))
    start = (
        at(draw(st.integers(-48, 24)), draw(st.integers(0, 3)) * 900)
        if recurring or draw(st.booleans())
        else None
    )
    if kind == "Relative":
        start = None
    return request(
        ident,
        periods,  # type: ignore[arg-type]
        connector=connector,
        purpose=purpose,
        kind=kind,
        stack=draw(st.integers(0, 3)),
        unit=unit,
        duration=duration,
        start=start,
        **extra,
    )


@st.composite
def profile_sets(draw: st.DrawFn, size: int = 5) -> list[dict[str, Any]]:
    count = draw(st.integers(1, size))
    return [draw(profile_requests(ident)) for ident in range(1, count + 1)]


windows = st.tuples(st.integers(-12, 36).map(lambda h: at(h)), st.integers(1, 48 * 4).map(lambda q: q * 900))
transactions = st.none() | st.builds(
    lambda offset, ident: Transaction(at(seconds=offset), ident),
    st.integers(-6 * 4, 36 * 4).map(lambda q: q * 900),
    st.none() | st.integers(1, 3),
)
electricals = st.builds(
    Electrical, st.sampled_from([Decimal(230), Decimal(240), Decimal("120.5")]), st.sampled_from([1, 3])
)
