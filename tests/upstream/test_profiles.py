"""An upstream's charging profiles for a site's station: read into held limits, chosen as a station
would, and never letting a connector above either the site's allocation or the upstream's limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.sites import Pacing, Site
from actors.sites.decide import decide
from actors.sites.view import SiteView
from actors.upstream.profiles import ProfileError, cleared_profiles, held_profile
from tests.sites.transactions import started, stopped

NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)


def set16(limit: float, purpose: str = "TxProfile", **more: Any) -> dict[str, Any]:
    schedule = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}
    profile = {
        "chargingProfileId": more.pop("profile_id", 7),
        "stackLevel": more.pop("stack_level", 3),
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": more.pop("kind", "Relative"),
        "chargingSchedule": schedule | more.pop("schedule", {}),
        **more,
    }
    return {"connectorId": more.pop("connector", 1), "csChargingProfiles": profile}


def view_with(*requests: dict[str, Any], cap: float = 16.0) -> SiteView:
    view = SiteView(Site("depot", ("CP-1",), max_current=cap, pacing=Pacing()))
    view.apply("station/CP-1", started(5), NOW)
    for request in requests:
        held = held_profile(request, NOW)
        assert held is not None
        view.apply("upstream/CP-1", held, NOW)
    return view


def target(view: SiteView, at: datetime = NOW) -> float:
    (value,) = decide(view, at, {}).targets.values()
    return value


def test_the_lower_of_site_and_upstream_binds() -> None:
    assert target(view_with()) == 16.0
    assert target(view_with(set16(32))) == 16.0
    assert target(view_with(set16(10))) == 10.0
    assert target(view_with(set16(3))) == 0.0  # below the site's minimum: paused


def test_ocpp_precedence_among_held_profiles() -> None:
    default = set16(8, "TxDefaultProfile", profile_id=1)
    assert target(view_with(default)) == 8.0
    # a TxProfile for the transaction overrides the TxDefaultProfile, the higher stack level wins
    assert target(view_with(default, set16(12, stack_level=1, profile_id=2))) == 12.0
    both = view_with(default, set16(12, stack_level=1, profile_id=2), set16(9, stack_level=2, profile_id=3))
    assert target(both) == 9.0
    # a TxProfile for another transaction does not apply; one ends with its transaction
    assert target(view_with(default, set16(12, transactionId=99, profile_id=2))) == 8.0
    view = view_with(default, set16(12, profile_id=2))
    view.apply("station/CP-1", stopped(5), NOW)
    view.apply("station/CP-1", started(6), NOW)
    assert target(view) == 8.0


def test_a_schedule_and_its_end_are_on_wall_clock_time() -> None:
    request = set16(
        10,
        kind="Absolute",
        schedule={
            "startSchedule": "2026-11-27T08:00:00Z",
            "duration": 600,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}, {"startPeriod": 300, "limit": 7}],
        },
    )
    view = view_with(request)
    assert target(view) == 10.0
    assert target(view, NOW + timedelta(seconds=301)) == 7.0
    assert target(view, NOW + timedelta(seconds=601)) == 16.0  # over: the site's own cap


def test_watts_are_read_over_the_connectors_phases() -> None:
    request = set16(6900, schedule={"chargingRateUnit": "W"})
    assert target(view_with(request)) == pytest.approx(10.0)


def test_clear_lifts_what_it_matches_and_the_view_round_trips() -> None:
    view = view_with(set16(10))
    restored = SiteView.from_data(view.site, view.as_data())
    assert target(restored) == 10.0
    cleared, for_station = cleared_profiles({"id": 7})
    assert not for_station
    view.apply("upstream/CP-1", cleared, NOW)
    assert target(view) == 16.0
    assert cleared_profiles({"chargingProfilePurpose": "ChargePointMaxProfile"})[1]


def test_max_profiles_go_to_the_station_and_bad_ones_are_refused() -> None:
    assert held_profile(set16(10, "ChargePointMaxProfile"), NOW) is None
    with pytest.raises(ProfileError):
        held_profile(set16(-1), NOW)
    with pytest.raises(ProfileError):
        held_profile({"connectorId": 1}, NOW)


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 40), st.floats(0, 64), st.sampled_from(["TxProfile", "TxDefaultProfile"]))
def test_never_above_the_site_or_the_upstream(cap: float, upstream: float, purpose: str) -> None:
    view = view_with(set16(upstream, purpose), cap=cap)
    assert target(view) <= min(cap, upstream) + 1e-6


def test_a_relative_schedule_runs_from_each_transactions_start() -> None:
    """A TxDefaultProfile of 10 A, then 6 A from 10 minutes on, for an hour: it arrives half an hour
    into a transaction (so that one is already on 6 A) and starts anew with the next transaction."""
    request = set16(
        10,
        "TxDefaultProfile",
        schedule={
            "duration": 3600,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}, {"startPeriod": 600, "limit": 6}],
        },
    )
    view = view_with()  # transaction 5 started at NOW
    held = held_profile(request, NOW + timedelta(minutes=30))
    assert held is not None
    view.apply("upstream/CP-1", held, NOW + timedelta(minutes=30))
    assert target(view, NOW + timedelta(minutes=31)) == 6.0
    assert target(view, NOW + timedelta(minutes=61)) == 16.0  # its hour is over: the site's own cap
    view.apply("station/CP-1", stopped(5), NOW + timedelta(minutes=70))
    next_start = NOW + timedelta(minutes=75)
    view.apply("station/CP-1", replace(started(6), timestamp=next_start.isoformat()), next_start)
    assert target(view, next_start + timedelta(minutes=1)) == 10.0
    assert target(view, next_start + timedelta(minutes=11)) == 6.0
    # The view's snapshot keeps the transaction's start and the profile's cycle.
    restored = SiteView.from_data(view.site, view.as_data())
    assert target(restored, next_start + timedelta(minutes=1)) == 10.0


def test_a_recurring_schedule_restarts_every_day_from_its_start_never_before() -> None:
    """Daily from 22:00 for 8 hours: 6 A, then 8 A from 02:00; outside those hours no upstream cap."""
    request = set16(
        6,
        "TxDefaultProfile",
        kind="Recurring",
        recurrencyKind="Daily",
        schedule={
            "startSchedule": "2026-11-26T22:00:00Z",
            "duration": 8 * 3600,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}, {"startPeriod": 4 * 3600, "limit": 8}],
        },
    )
    view = view_with(request)
    at = datetime.fromisoformat
    assert target(view, at("2026-11-26T21:00:00+00:00")) == 16.0  # before its first day
    assert target(view, at("2026-11-26T23:00:00+00:00")) == 6.0
    assert target(view, at("2026-11-27T03:00:00+00:00")) == 8.0
    assert target(view, NOW) == 16.0  # 08:00: outside its 8 hours
    assert target(view, at("2026-11-29T22:30:00+00:00")) == 6.0  # days later, the same hours
    assert target(view, at("2026-11-30T05:59:00+00:00")) == 8.0
    with pytest.raises(ProfileError):
        held_profile(set16(6, kind="Recurring", schedule={"startSchedule": "2026-11-26T22:00:00Z"}), NOW)
