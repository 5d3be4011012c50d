"""Parsing profiles: what a station would accept parses exactly; every mistake names profile and field."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from actors.charging import (
    Kind,
    ProfileError,
    Purpose,
    Recurrency,
    Unit,
    parse_profiles,
    parse_set_charging_profile,
)
from tests.charging.builders import T0, at, request


def test_a_full_profile_parses_exactly() -> None:
    payload = request(
        7,
        [(0, 16.1, 3), (1800, 6)],
        purpose="TxProfile",
        kind="Recurring",
        stack=2,
        duration=3600,
        start=at(22),
        recurrencyKind="Daily",
        transactionId=42,
        validFrom=T0,
        validTo="2026-11-28T00:00:00+01:00",
        minChargingRate=4.2,
    )
    held = parse_set_charging_profile(payload)
    profile = held.profile
    assert held.connector == 1
    assert (profile.id, profile.stack_level, profile.purpose, profile.kind) == (
        7,
        2,
        Purpose.TX,
        Kind.RECURRING,
    )
    assert (profile.recurrency, profile.transaction_id) == (Recurrency.DAILY, 42)
    assert profile.valid_from == T0 and profile.valid_to == at(23)
    assert profile.valid_to is not None and profile.valid_to.utcoffset() == timedelta(hours=1)
    schedule = profile.schedule
    assert (schedule.unit, schedule.duration, schedule.start, schedule.min_rate) == (
        Unit.A,
        3600,
        at(22),
        Decimal("4.2"),
    )
    assert [(p.start, p.limit, p.phases) for p in schedule.periods] == [
        (0, Decimal("16.1"), 3),
        (1800, Decimal("6.0"), None),
    ]


PERIOD = "profile 7: chargingSchedule.chargingSchedulePeriod"


def _broken(change: str) -> dict[str, Any]:
    payload = request(7, [(0, 16), (600, 8)], duration=3600, start=T0)
    profile = payload["csChargingProfiles"]
    schedule = profile["chargingSchedule"]
    periods = schedule["chargingSchedulePeriod"]
    exec(change, {"payload": payload, "profile": profile, "schedule": schedule, "periods": periods})
    return payload


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "periods[1]['startPeriod'] = 0",
            PERIOD + "[1].startPeriod: must be after the one before (0), got 0",
        ),
        (
            "periods[0]['startPeriod'] = 5",
            PERIOD + "[0].startPeriod: the first period starts at 0, not 5",
        ),
        (
            "periods[1]['limit'] = 16.05",
            PERIOD + "[1].limit: must be a multiple of 0.1, got 16.05",
        ),
        (
            "periods[1]['limit'] = -1",
            PERIOD + "[1].limit: must not be negative, got -1",
        ),
        (
            "periods[1]['limit'] = '8'",
            PERIOD + "[1].limit: must be a number, got '8'",
        ),
        (
            "periods[1]['numberPhases'] = 4",
            PERIOD + "[1].numberPhases: must be 1, 2 or 3, got 4",
        ),
        (
            "periods[1]['startPeriod'] = 3600",
            PERIOD + "[1].startPeriod: 3600 is not before the schedule's duration: never applies",
        ),
        (
            "periods[1]['phases'] = 3",
            PERIOD + "[1].phases: unknown field",
        ),
        ("del periods[:]", "profile 7: chargingSchedule.chargingSchedulePeriod: must be a non-empty list"),
        (
            "schedule['chargingRateUnit'] = 'kW'",
            "profile 7: chargingSchedule.chargingRateUnit: must be one of A, W, got 'kW'",
        ),
        ("schedule['duration'] = 0", "profile 7: chargingSchedule.duration: must be 1 or more, got 0"),
        (
            "schedule['startSchedule'] = '2026-11-27T10:00:00'",
            "profile 7: chargingSchedule.startSchedule: needs a UTC offset",
        ),
        (
            "schedule['startSchedule'] = 'tomorrow'",
            "profile 7: chargingSchedule.startSchedule: not an ISO 8601 date-time: 'tomorrow'",
        ),
        ("del schedule['chargingRateUnit']", "profile 7: chargingSchedule.chargingRateUnit: missing"),
        ("profile['stackLevel'] = -1", "profile 7: stackLevel: must be 0 or more, got -1"),
        ("profile['stackLevel'] = True", "profile 7: stackLevel: must be an integer, got True"),
        (
            "profile['chargingProfilePurpose'] = 'TxDefault'",
            "profile 7: chargingProfilePurpose: must be one of ChargePointMaxProfile, TxDefaultProfile, ",
        ),
        ("profile['chargingProfileKind'] = 'Recurring'", "profile 7: recurrencyKind: missing"),
        (
            "profile.update(chargingProfileKind='Recurring', recurrencyKind='Daily'); "
            "del schedule['startSchedule']",
            "profile 7: chargingSchedule.startSchedule: a Recurring profile needs it",
        ),
        (
            "profile['transactionId'] = 3",
            "profile 7: transactionId: only a TxProfile names a transaction, not a TxDefaultProfile",
        ),
        (
            "profile['validFrom'] = '2026-11-27T10:00:00Z'; profile['validTo'] = '2026-11-27T09:00:00Z'",
            "profile 7: validTo: must be after validFrom (2026-11-27T10:00:00Z)",
        ),
        ("profile['colour'] = 'red'", "profile 7: colour: unknown field"),
        (
            "profile['chargingProfilePurpose'] = 'ChargePointMaxProfile'",
            "profile 7: connectorId: a ChargePointMaxProfile goes on 0, not 1",
        ),
        (
            "profile['chargingProfilePurpose'] = 'TxProfile'; payload['connectorId'] = 0",
            "profile 7: connectorId: a TxProfile goes on a connector, not on 0",
        ),
        ("payload['connectorId'] = -1", "profile 7: connectorId: must be 0 or more, got -1"),
        ("del profile['chargingProfileId']", "entry 0: chargingProfileId: missing"),
        (
            "profile['chargingProfileId'] = 'seven'",
            "entry 0: chargingProfileId: must be an integer, got 'seven'",
        ),
    ],
)
def test_each_mistake_names_the_profile_and_the_field(change: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profiles([_broken(change)])
    assert str(caught.value).startswith(message)


def test_daily_periods_past_a_day_never_apply() -> None:
    payload = request(3, [(0, 16), (86_400, 8)], kind="Recurring", recurrencyKind="Daily", start=T0)
    with pytest.raises(
        ProfileError, match=r"startPeriod: 86400 is not before the schedule's Daily recurrence"
    ):
        parse_profiles([payload])


def test_the_file_is_installed_in_order_as_a_station_would() -> None:
    """A later profile replaces one with its id anywhere, and one with its stack level and purpose on
    its connector (1.6 SetChargingProfile)."""
    first = request(1, [(0, 16)], connector=1, stack=0)
    moved = request(1, [(0, 10)], connector=2, stack=5)
    same_level = request(2, [(0, 20)], connector=2, stack=5)
    other_connector = request(3, [(0, 32)], connector=1, stack=5)
    installed = parse_profiles([first, moved, same_level, other_connector])
    assert [(h.connector, h.profile.id) for h in installed] == [(2, 2), (1, 3)]
    with pytest.raises(ProfileError, match=r"^file: must be a JSON list"):
        parse_profiles(copy.deepcopy(first))
