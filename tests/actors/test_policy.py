"""Fleet policy: id tag status with expiry and parent, boot decisions, station and vendor overrides."""

from __future__ import annotations

from datetime import UTC, datetime

from actors.ocpp import Policy
from actors.policy import BootDecision, FleetPolicy, IdTag, StationPolicy

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def test_id_tag_info() -> None:
    policy = FleetPolicy(
        id_tags={
            "A": IdTag(),
            "B": IdTag(expiry=datetime(2026, 1, 1, tzinfo=UTC), parent="P"),
            "C": IdTag(status="Blocked", expiry=datetime(2030, 1, 1, tzinfo=UTC)),
        }
    )
    assert policy.id_tag_info("A", NOW) == {"status": "Accepted"}
    assert policy.id_tag_info("B", NOW) == {
        "status": "Expired",
        "expiryDate": "2026-01-01T00:00:00Z",
        "parentIdTag": "P",
    }
    assert policy.id_tag_info("C", NOW)["status"] == "Blocked"
    assert policy.id_tag_info("nobody", NOW) == {"status": "Invalid"}


def test_station_policy_wins_over_vendor_policy_over_default() -> None:
    strict, pending = StationPolicy(validation=Policy.STRICT), StationPolicy(boot=BootDecision.PENDING)
    policy = FleetPolicy(
        unknown_stations=BootDecision.REJECTED, stations={"known": strict}, vendors={"Acme": pending}
    )
    assert policy.for_station("known", "Acme") is strict
    assert policy.for_station("other", "Acme") is pending
    assert policy.for_station("other", None) is policy.default
    assert policy.boot_decision("known", None) is BootDecision.ACCEPTED
    assert policy.boot_decision("other", "Acme") is BootDecision.PENDING
    assert policy.boot_decision("other", "Nobody") is BootDecision.REJECTED
