"""The installed-profiles fold, rule by rule (OCPP 1.6 SetChargingProfile/ClearChargingProfile)."""

from __future__ import annotations

from typing import Any

from actors.events import IdToken
from actors.events.station import (
    ChargingProfileCleared,
    ChargingProfileSet,
    StationBooted,
    TransactionStarted,
    TransactionStopped,
)
from actors.installed_profiles import Profile, fold


def profile(ident: int, level: int = 0, purpose: str = "TxDefaultProfile", **extra: Any) -> Profile:
    return {"chargingProfileId": ident, "stackLevel": level, "chargingProfilePurpose": purpose, **extra}


def ids(profiles: list[Profile] | None) -> list[int] | None:
    return None if profiles is None else [p["chargingProfileId"] for p in profiles]


def set_on(connector: int, new: Profile) -> ChargingProfileSet:
    return ChargingProfileSet(connector=connector, profile=new)


def cleared(criteria: dict[str, Any]) -> ChargingProfileCleared:
    return ChargingProfileCleared(criteria=criteria)


def stopped(transaction_id: int, connector: int | None) -> TransactionStopped:
    return TransactionStopped(
        transaction_id=transaction_id,
        connector=connector,
        known=connector is not None,
        id_token=None,
        start_id_token=IdToken("T"),
        meter_stop_wh=0.0,
        energy_wh=None,
        timestamp="2026-11-21T10:05:00Z",
        reason="Local",
        closed_by="station",
    )


def test_a_profile_with_the_same_id_replaces_the_old_one_on_its_connector() -> None:
    installed = [profile(1, level=0), profile(2, level=1)]
    after = fold(installed, 1, set_on(1, profile(1, level=2)))
    assert after is not None
    assert [(p["chargingProfileId"], p["stackLevel"]) for p in after] == [(2, 1), (1, 2)]


def test_a_profile_with_the_same_id_moves_from_another_connector() -> None:
    assert ids(fold([profile(1), profile(2, level=1)], 1, set_on(2, profile(1)))) == [2]
    assert fold([profile(2, level=1)], 1, set_on(2, profile(1))) is None  # nothing of connector 1 changes


def test_same_stack_level_and_purpose_on_the_connector_is_replaced() -> None:
    assert ids(fold([profile(1, level=3)], 1, set_on(1, profile(2, level=3)))) == [2]
    assert ids(fold([profile(1, level=3)], 1, set_on(1, profile(2, level=3, purpose="TxProfile")))) == [1, 2]


def test_clear_by_id_anywhere_and_by_criteria() -> None:
    installed = [profile(1, level=0), profile(2, level=1), profile(3, level=1, purpose="TxProfile")]
    assert ids(fold(installed, 1, cleared({"id": 2, "connectorId": 7}))) == [1, 3]
    assert ids(fold(installed, 1, cleared({"stackLevel": 1}))) == [1]
    assert ids(fold(installed, 1, cleared({"chargingProfilePurpose": "TxProfile"}))) == [1, 2]
    assert fold(installed, 1, cleared({"connectorId": 0})) is None  # connector 0 only
    assert ids(fold(installed, 0, cleared({"connectorId": 0}))) == []
    assert ids(fold(installed, 1, cleared({}))) == []


def test_a_tx_profile_ends_with_its_transaction() -> None:
    installed = [profile(1), profile(2, level=1, purpose="TxProfile")]
    assert ids(fold(installed, 1, stopped(5, 1))) == [1]
    assert fold(installed, 2, stopped(5, 2)) is not None
    assert fold(installed, 1, stopped(5, 2)) is None
    tied = [profile(3, purpose="TxProfile", transactionId=6)]
    assert fold(tied, 1, stopped(5, 1)) is None  # another transaction's
    assert ids(fold(tied, 1, stopped(6, None))) == []


def test_other_events_change_nothing() -> None:
    started = TransactionStarted(
        transaction_id=5,
        connector=1,
        id_token=IdToken("T"),
        meter_start_wh=0.0,
        timestamp="2026-11-21T10:00:00Z",
        reservation_id=None,
        status="Accepted",
        expiry=None,
        parent=None,
    )
    assert fold([profile(1)], 1, started) is None


def booted() -> StationBooted:
    return StationBooted(
        status="Accepted",
        interval=300,
        vendor="Acme",
        model="W",
        serial=None,
        firmware=None,
        iccid=None,
        imsi=None,
        meter_type=None,
        meter_serial=None,
    )


def test_a_reboot_drops_the_tx_profiles_and_keeps_the_others() -> None:
    installed = [profile(1), profile(2, level=1, purpose="TxProfile"), profile(3, level=2)]
    assert ids(fold(installed, 1, booted())) == [1, 3]
    assert fold([profile(1)], 1, booted()) is None
