"""2.0.1 charging profiles in the neutral (1.6) shape and back (hypothesis): any valid 2.0.1 profile
the station accepted becomes a profile the charging model parses, and the request that installs it
again is a valid 2.0.1 SetChargingProfile carrying the same profile, but for what 1.6 has no field
for (the schedule's id, phaseToUse, the schedules after the first)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.charging import parse_set_charging_profile
from actors.ocpp.v201.dialect import REQUESTS
from actors.ocpp.v201.profiles import composite_conf, neutral_clear_criteria, neutral_profile
from actors.ocpp.versions import V201

periods = st.lists(st.integers(1, 3600), min_size=0, max_size=4, unique=True).map(
    lambda starts: [0, *sorted(starts)]
)


@st.composite
def profiles(draw: st.DrawFn) -> tuple[int, dict[str, Any]]:
    purpose = draw(st.sampled_from(["ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"]))
    evse = (
        0
        if purpose == "ChargingStationMaxProfile"
        else draw(st.integers(1 if purpose == "TxProfile" else 0, 3))
    )
    kind = draw(st.sampled_from(["Absolute", "Relative", "Recurring"]))
    schedule: dict[str, Any] = {
        "id": draw(st.integers(1, 99)),
        "chargingRateUnit": draw(st.sampled_from(["A", "W"])),
        "chargingSchedulePeriod": [
            {
                "startPeriod": start,
                "limit": draw(st.integers(0, 320)) / 10,
                "phaseToUse": 1,
                "numberPhases": 1,
            }
            for start in draw(periods)
        ],
    }
    if kind != "Relative":
        schedule["startSchedule"] = "2026-11-27T00:00:00Z"
    if draw(st.booleans()):
        last = schedule["chargingSchedulePeriod"][-1]["startPeriod"]
        schedule["duration"] = last + draw(st.integers(1, 86400))  # every period applies
    profile: dict[str, Any] = {
        "id": draw(st.integers(1, 10_000)),
        "stackLevel": draw(st.integers(0, 9)),
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": [schedule, {**schedule, "id": 100}][: draw(st.integers(1, 2))],
    }
    if kind == "Recurring":
        profile["recurrencyKind"] = draw(st.sampled_from(["Daily", "Weekly"]))
    if purpose == "TxProfile" and draw(st.booleans()):
        profile["transactionId"] = draw(st.text("abc-123", min_size=1, max_size=36))
    return evse, profile


@settings(max_examples=80, deadline=None)
@given(case=profiles())
def test_a_201_profile_is_recorded_parseable_and_sent_again_as_itself(
    case: tuple[int, dict[str, Any]],
) -> None:
    evse, profile = case
    request = {"evseId": evse, "chargingProfile": profile}
    V201.strict.validate_request("SetChargingProfile", request)
    neutral = neutral_profile(profile)
    installed = parse_set_charging_profile({"connectorId": evse, "csChargingProfiles": neutral})
    assert installed.profile.id == profile["id"] and installed.connector == evse
    assert installed.profile.transaction_id == profile.get("transactionId")

    again = REQUESTS.set_profile({"connectorId": evse, "csChargingProfiles": neutral})
    V201.strict.validate_request("SetChargingProfile", again)
    first = profile["chargingSchedule"][0]
    expected_schedule = {
        **first,
        "id": profile["id"],
        "chargingSchedulePeriod": [
            {k: v for k, v in p.items() if k != "phaseToUse"} for p in first["chargingSchedulePeriod"]
        ],
    }
    assert again == {"evseId": evse, "chargingProfile": {**profile, "chargingSchedule": [expected_schedule]}}


def test_clear_criteria_and_the_composite_reply_in_1_6_terms() -> None:
    assert neutral_clear_criteria({"chargingProfileId": 7}) == {"id": 7}
    criteria = {"evseId": 0, "chargingProfilePurpose": "ChargingStationMaxProfile", "stackLevel": 2}
    assert neutral_clear_criteria({"chargingProfileCriteria": criteria}) == {
        "connectorId": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "stackLevel": 2,
    }
    reply = {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": 60,
            "scheduleStart": "2026-11-27T08:00:00Z",
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0, "phaseToUse": 1}],
        },
    }
    assert composite_conf(reply) == {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-11-27T08:00:00Z",
        "chargingSchedule": {
            "duration": 60,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}],
        },
    }
    assert composite_conf({"status": "Rejected"}) == {"status": "Rejected"}
