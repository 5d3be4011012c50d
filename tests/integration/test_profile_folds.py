"""Charging profiles as a real station (the ocpp package's ChargePoint) installs them: the connector
actors and the live state agree on which profiles are in force (issue 10, defect 7)."""

from __future__ import annotations

from typing import Any

from actors.commands import Command
from adapters.csms import Csms
from tests.integration.conftest import live, url_of
from tests.integration.peer import peer_station


def profile(ident: int, purpose: str, level: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "chargingProfileId": ident,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        **extra,
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": "2026-11-21T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        },
    }


def ids(profiles: list[dict[str, Any]]) -> list[int]:
    return [p["chargingProfileId"] for p in profiles]


async def test_profiles_replace_move_end_and_stay_cleared(csms: Csms) -> None:
    async with peer_station(url_of(csms), "PRO-1") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        for connector in (0, 1, 2):
            await peer.call(
                "StatusNotification", connector_id=connector, error_code="NoError", status="Available"
            )
        station = csms.station("PRO-1")

        async def install(connector: int, new: dict[str, Any]) -> None:
            reply = await station.call(
                Command("SetChargingProfile", {"connectorId": connector, "csChargingProfiles": new})
            )
            assert reply == {"status": "Accepted"}

        assert (await station.connector(1)).charging_profiles == []  # starts connector 1's actor
        await install(1, profile(5, "TxDefaultProfile"))
        await install(1, profile(5, "TxDefaultProfile", level=2))  # same id: replaces
        assert [
            (p["chargingProfileId"], p["stackLevel"]) for p in (await station.connector(1)).charging_profiles
        ] == [(5, 2)]
        await install(2, profile(5, "TxDefaultProfile"))  # same id on another connector: moves
        assert (await station.connector(1)).charging_profiles == []
        await install(0, profile(1, "ChargePointMaxProfile", level=0))
        state = await live(csms)
        assert ids(state.stations["PRO-1"].charging_profiles) == [1], "connector 0's profile is kept"
        assert ids(state.stations["PRO-1"].connectors[2].charging_profiles) == [5]
        assert state.stations["PRO-1"].connectors[1].charging_profiles == []

        started = await peer.call(
            "StartTransaction",
            connector_id=1,
            id_tag="TAG-OK",
            meter_start=0,
            timestamp="2026-11-21T10:00:00Z",
        )
        tx = started["transaction_id"]
        await install(1, profile(7, "TxProfile", transactionId=tx))
        assert ids((await station.connector(1)).charging_profiles) == [7]
        await peer.call(
            "StopTransaction", transaction_id=tx, meter_stop=500, timestamp="2026-11-21T11:00:00Z"
        )
        assert (await station.connector(1)).charging_profiles == [], "a TxProfile ends with its transaction"

        await station.call(Command("ClearChargingProfile", {"id": 5}))
        await install(2, profile(8, "TxDefaultProfile", level=0))
        await station.call(
            Command("ClearChargingProfile", {"connectorId": 2, "chargingProfilePurpose": "TxDefaultProfile"})
        )
        # Connector 2's actor starts only now, rebuilding from the log: what was cleared stays cleared.
        late = await station.connector(2)
        assert late.charging_profiles == []

        state = await live(csms)
        view = state.stations["PRO-1"]
        assert ids(view.charging_profiles) == [1]
        for number in (1, 2):
            assert (await station.connector(number)).as_dict() == view.connectors[number].as_dict()
