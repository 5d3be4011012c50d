"""The composite schedule: worked cases, a rule each, and properties against an instant-by-instant check."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.charging import (
    CompositeSchedule,
    Electrical,
    Transaction,
    Unit,
    composite_schedule,
    parse_profiles,
)
from tests.charging.builders import (
    T0,
    at,
    composite_at,
    electricals,
    limits,
    profile_at,
    profile_sets,
    reference_at,
    request,
    tenths_down,
    transactions,
    windows,
)


def composite(
    payloads: list[dict[str, Any]],
    duration: int,
    start: Any = T0,
    unit: Unit = Unit.A,
    connector: int = 1,
    **kw: Any,
) -> CompositeSchedule:
    return composite_schedule(parse_profiles(payloads), connector, start, duration, unit, **kw)


def test_stacked_default_profiles_after_compliance_case_tc_072() -> None:
    """The shape of the 1.6 compliance test TC_072_CS: two TxDefaultProfiles from the same start,
    stack level 0 for 400 s (6, 8, 10 A at 0, 100, 200 s) and stack level 1 for 150 s. Profile 1 is as
    the test case gives it; profile 2's limits (12 A, then 7 A from 100 s) are ours, since the copy
    of the test case we had cut them off. The higher stack level decides while it runs; when its
    duration ends, the lower one decides again from where its own schedule is."""
    profiles = [
        request(1, [(0, 6), (100, 8), (200, 10)], stack=0, duration=400, start=T0),
        request(2, [(0, 12), (100, 7)], stack=1, duration=150, start=T0),
    ]
    assert limits(composite(profiles, 400)) == [(0, 12.0), (100, 7.0), (150, 8.0), (200, 10.0)]
    # past both durations no profile applies: no limit, unless the connector has a maximum
    assert limits(composite(profiles, 500))[-1] == (400, None)
    assert limits(composite(profiles, 500, connector_max=Decimal(32)))[-1] == (400, 32.0)


def test_recurring_daily_across_midnight() -> None:
    """A night-time cap every day from 22:00 for 8 hours (anchored the evening before) over a
    default of 32 A: 20:00-22:00 32 A, 22:00-06:00 10 A across midnight, then 32 A again."""
    profiles = [
        request(1, [(0, 32)], stack=0),
        request(
            2, [(0, 10)], stack=1, kind="Recurring", recurrencyKind="Daily", start=at(-26), duration=8 * 3600
        ),
    ]
    schedule = composite(profiles, 12 * 3600, start=at(20))
    assert limits(schedule) == [(0, 32.0), (2 * 3600, 10.0), (10 * 3600, 32.0)]


def test_recurring_period_without_duration_runs_until_the_next_recurrence() -> None:
    """Daily from 06:00: 16 A until 18:00, then 6 A until 06:00 the next day (across midnight)."""
    profiles = [
        request(1, [(0, 16), (12 * 3600, 6)], kind="Recurring", recurrencyKind="Daily", start=at(-18))
    ]
    assert limits(composite(profiles, 86_400)) == [(0, 6.0), (6 * 3600, 16.0), (18 * 3600, 6.0)]


def test_recurring_weekly_and_never_before_its_start() -> None:
    profiles = [
        request(1, [(0, 20)]),
        request(2, [(0, 8)], stack=1, kind="Recurring", recurrencyKind="Weekly", start=at(24), duration=3600),
    ]
    week = 7 * 86_400
    assert limits(composite(profiles, 10 * 86_400)) == [
        (0, 20.0),
        (86_400, 8.0),
        (90_000, 20.0),
        (86_400 + week, 8.0),
        (90_000 + week, 20.0),
    ]


def test_relative_profiles_count_from_the_transaction_start() -> None:
    """A TxProfile relative to a transaction that started at 10:00 (16 A, 8 A after 30 min, for an
    hour), seen from 10:15: 15 min of 16 A, 30 of 8 A, then the 32 A default again."""
    transaction = Transaction(at(10), 42)
    profiles = [
        request(1, [(0, 32)]),
        request(
            2, [(0, 16), (1800, 8)], purpose="TxProfile", kind="Relative", duration=3600, transactionId=42
        ),
    ]
    schedule = composite(profiles, 7200, start=at(10, 900), transaction=transaction)
    assert limits(schedule) == [(0, 16.0), (900, 8.0), (2700, 32.0)]
    # without a transaction a relative default counts from the window's start, and TxProfiles do not apply
    relative_default = [request(1, [(0, 16), (1800, 8)], kind="Relative")]
    assert limits(composite(relative_default, 3600, start=at(10, 900))) == [(0, 16.0), (1800, 8.0)]
    assert limits(composite(profiles, 3600, start=at(10, 900))) == [(0, 32.0)]


def test_a_tx_profile_that_ends_before_the_default_hands_back_to_it() -> None:
    transaction = Transaction(at(8), 7)
    profiles = [
        request(1, [(0, 20), (3600, 24)], start=at(8), duration=4 * 3600),
        request(2, [(0, 10)], purpose="TxProfile", start=at(8), duration=1800),
    ]
    schedule = composite(profiles, 5 * 3600, start=at(8), transaction=transaction)
    assert limits(schedule) == [(0, 10.0), (1800, 20.0), (3600, 24.0), (4 * 3600, None)]


def test_tx_profiles_apply_only_to_their_transaction_and_from_its_start() -> None:
    profiles = [
        request(1, [(0, 32)], start=T0),
        request(2, [(0, 6)], purpose="TxProfile", stack=2, transactionId=99),
        request(3, [(0, 12)], purpose="TxProfile", stack=1),
    ]
    schedule = composite(profiles, 3600, transaction=Transaction(at(seconds=600), 7))
    assert limits(schedule) == [(0, 32.0), (600, 12.0)]
    assert limits(composite(profiles, 3600, transaction=Transaction(T0, 99))) == [(0, 6.0)]


def test_valid_to_cuts_a_profile_and_valid_from_starts_one() -> None:
    profiles = [
        request(1, [(0, 16)]),
        request(2, [(0, 6)], stack=1, validTo=at(1)),
        request(3, [(0, 10)], stack=2, validFrom=at(2), validTo=at(3)),
    ]
    assert limits(composite(profiles, 4 * 3600)) == [(0, 6.0), (3600, 16.0), (7200, 10.0), (3 * 3600, 16.0)]


def test_charge_point_max_caps_both_purposes_and_is_connector_zeros_composite() -> None:
    transaction = Transaction(T0, 1)
    profiles = [
        request(1, [(0, 40), (1800, 10)], connector=0, purpose="ChargePointMaxProfile"),
        request(2, [(0, 32)]),
        request(3, [(0, 16), (3600, 25)], purpose="TxProfile"),
    ]
    assert limits(composite(profiles, 7200, transaction=transaction)) == [(0, 16.0), (1800, 10.0)]
    assert limits(composite(profiles, 7200)) == [(0, 32.0), (1800, 10.0)]
    assert limits(composite(profiles, 7200, connector=0, transaction=transaction)) == [
        (0, 40.0),
        (1800, 10.0),
    ]


def test_a_default_on_the_connector_beats_connector_zeros_at_the_same_stack_level() -> None:
    profiles = [request(1, [(0, 16)], connector=0), request(2, [(0, 20)], connector=1)]
    assert limits(composite(profiles, 60)) == [(0, 20.0)]
    assert limits(composite(profiles, 60, connector=2)) == [(0, 16.0)]
    higher_on_zero = [request(1, [(0, 16)], connector=0, stack=1), request(2, [(0, 20)], connector=1)]
    assert limits(composite(higher_on_zero, 60)) == [(0, 16.0)]


def test_watts_and_amperes_convert_with_voltage_and_phases_rounding_down() -> None:
    watts = [request(1, [(0, 11000)], unit="W")]
    assert limits(composite(watts, 60)) == [(0, 15.9)]  # 11000 / (230 x 3) = 15.94
    assert limits(composite(watts, 60, electrical=Electrical(Decimal(240), 1))) == [(0, 45.8)]  # 45.83
    amperes = [request(1, [(0, 16, 1), (60, 16)])]
    assert limits(composite(amperes, 120, unit=Unit.W)) == [(0, 3680.0), (60, 11040.0)]
    schedule = composite(amperes, 120, unit=Unit.W)
    assert [p.phases for p in schedule.periods] == [1, 3]
    # a cap in W against a default in A is compared in the requested unit
    mixed = [
        request(1, [(0, 7000)], connector=0, purpose="ChargePointMaxProfile", unit="W"),
        request(2, [(0, 16)]),
    ]
    assert limits(composite(mixed, 60)) == [(0, 10.1)]  # 7000 / 690 = 10.14 < 16
    assert limits(composite(mixed, 60, unit=Unit.W)) == [(0, 7000.0)]


def test_boundaries_between_whole_seconds_round_towards_the_lower_limit() -> None:
    """A window starting half a second after the profiles' second: a falling edge moves earlier and a
    rising edge later, so the whole second around each edge gets the lower limit."""
    profiles = [request(1, [(0, 16), (10, 6), (20, 16)], start=T0)]
    schedule = composite(profiles, 30, start=T0 + timedelta(milliseconds=500))
    assert limits(schedule) == [(0, 16.0), (9, 6.0), (20, 16.0)]


def test_min_charging_rate_is_the_highest_of_the_deciding_profiles() -> None:
    profiles = [
        request(1, [(0, 16)], minChargingRate=6.0),
        request(2, [(0, 10)], stack=1, duration=60, start=T0, minChargingRate=4.2),
        request(3, [(0, 10)], stack=2, start=at(5), minChargingRate=9.9),  # never decides this window
    ]
    assert composite(profiles, 120).min_rate == Decimal("6.0")
    assert composite(profiles[1:2], 120).min_rate == Decimal("4.2")
    assert composite(profiles, 120, unit=Unit.W).min_rate == Decimal("4140.0")
    assert composite([request(1, [(0, 16)])], 60).min_rate is None


# Properties: every generated time is a multiple of 15 minutes from T0, so checking each quarter
# hour's middle covers every instant.


def _quarters(schedule: CompositeSchedule) -> range:
    return range(450, schedule.duration, 900)


@settings(max_examples=150, deadline=None)
@given(profile_sets(), windows, transactions, electricals, st.sampled_from(list(Unit)))
def test_the_composite_is_the_rules_read_instant_by_instant(
    payloads: list[dict[str, Any]],
    window: Any,
    transaction: Transaction | None,
    electrical: Electrical,
    unit: Unit,
) -> None:
    installed = parse_profiles(payloads)
    start, duration = window
    for connector in (0, 1):
        schedule = composite_schedule(
            installed, connector, start, duration, unit, electrical=electrical, transaction=transaction
        )
        for offset in _quarters(schedule):
            moment = start + timedelta(seconds=offset)
            expected = reference_at(installed, connector, moment, start, unit, electrical, transaction)
            limit, phases = composite_at(schedule, offset)
            if expected is None:
                assert limit is None
            else:
                assert (limit, phases) == (tenths_down(expected[0]), expected[1]), (offset, expected)


@settings(max_examples=150, deadline=None)
@given(profile_sets(), windows, transactions, electricals)
def test_never_above_the_charge_point_max_profile_in_force(
    payloads: list[dict[str, Any]], window: Any, transaction: Transaction | None, electrical: Electrical
) -> None:
    """At every instant the composite is at most the limit of the running ChargePointMaxProfile with
    the highest stack level (a lower one is overridden by it, as within any purpose)."""
    installed = parse_profiles(payloads)
    start, duration = window
    schedule = composite_schedule(
        installed, 1, start, duration, Unit.A, electrical=electrical, transaction=transaction
    )
    caps = sorted(
        (h for h in installed if h.profile.purpose.value == "ChargePointMaxProfile"),
        key=lambda h: h.profile.stack_level,
        reverse=True,
    )
    for offset in _quarters(schedule):
        moment = start + timedelta(seconds=offset)
        limit, _ = composite_at(schedule, offset)
        in_force = [
            f for cap in caps if (f := profile_at(cap, moment, start, transaction, Unit.A, electrical))
        ]
        if in_force:
            assert limit is not None and limit <= in_force[0][0]


@settings(max_examples=150, deadline=None)
@given(profile_sets(), windows, transactions)
def test_a_higher_stack_level_wins(
    payloads: list[dict[str, Any]], window: Any, transaction: Transaction | None
) -> None:
    """Without caps or TxProfiles, the default with the highest stack level that runs decides."""
    defaults = [
        p for p in payloads if p["csChargingProfiles"]["chargingProfilePurpose"] == "TxDefaultProfile"
    ]
    installed = [h for h in parse_profiles(defaults) if h.connector == 1]
    start, duration = window
    schedule = composite_schedule(installed, 1, start, duration, Unit.A, transaction=transaction)
    electrical = Electrical()
    for offset in _quarters(schedule):
        moment = start + timedelta(seconds=offset)
        running = [
            (h.profile.stack_level, found)
            for h in installed
            if (found := profile_at(h, moment, start, transaction, Unit.A, electrical)) is not None
        ]
        limit, _ = composite_at(schedule, offset)
        if running:
            assert limit == tenths_down(max(running, key=lambda r: r[0])[1][0])
        else:
            assert limit is None


@settings(max_examples=150, deadline=None)
@given(profile_sets(), windows, transactions)
def test_periods_are_sorted_whole_seconds_and_merged(
    payloads: list[dict[str, Any]], window: Any, transaction: Transaction | None
) -> None:
    start, duration = window
    schedule = composite_schedule(
        parse_profiles(payloads), 1, start, duration, Unit.W, transaction=transaction
    )
    starts = [p.start for p in schedule.periods]
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < duration
    for before, after in zip(schedule.periods, schedule.periods[1:], strict=False):
        assert (before.limit, before.phases) != (after.limit, after.phases)
    for period in schedule.periods:
        assert period.limit is None or period.limit == period.limit.quantize(Decimal("0.1"))


@settings(max_examples=100, deadline=None)
@given(profile_sets(), windows, transactions, st.integers(1, 999_999))
def test_a_window_between_whole_seconds_never_allows_more_and_rounds_only_at_edges(
    payloads: list[dict[str, Any]], window: Any, transaction: Transaction | None, micros: int
) -> None:
    """With the window starting between two seconds of the profiles' grid, each boundary moves onto
    a whole second of the window: the composite is at most the rules' limit at every instant, and
    equal to it away from the boundaries (the middle of each quarter hour)."""
    installed = parse_profiles(payloads)
    start = window[0] + timedelta(microseconds=micros)
    schedule = composite_schedule(installed, 1, start, window[1], Unit.A, transaction=transaction)
    electrical = Electrical()
    for quarter in range(window[1] // 900):
        for into, exact in ((0.0001, False), (450, True), (899.9999, False)):
            offset = quarter * 900 + into - micros / 1e6
            if not 0 <= offset < window[1]:
                continue
            moment = start + timedelta(seconds=offset)
            expected = reference_at(installed, 1, moment, start, Unit.A, electrical, transaction)
            limit, _ = composite_at(schedule, offset)
            if expected is None or expected[0] is None:
                assert limit is None or exact is False
            elif exact:
                assert limit == tenths_down(expected[0])
            else:
                assert limit is not None and limit <= tenths_down(expected[0])
