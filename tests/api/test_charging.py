"""Smart charging over HTTP with a real station: installed profiles per connector, and composites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from actors.policy import StationPolicy
from adapters.csms import open_csms
from tests.api.conftest import TOKEN, Api, api_config
from tests.integration.conftest import url_of
from tests.integration.peer import PeerStation, peer_station

DAY = "2026-01-01T00:00:00Z"


def profile(ident: int, purpose: str, limit: float, level: int = 0, unit: str = "A") -> dict[str, Any]:
    return {
        "chargingProfileId": ident,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": unit,
            "startSchedule": DAY,
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": limit},
                {"startPeriod": 1800, "limit": 6.0},
            ],
        },
    }


async def install(api: Api, peer: PeerStation, station: str, connector: int, body: dict[str, Any]) -> None:
    sent = {"connectorId": connector, "csChargingProfiles": body}
    answer = await api.client.post(f"/api/stations/{station}/commands/SetChargingProfile", json=sent)
    assert answer.status_code == 200, answer.text
    assert (await peer.next_received())["received"] == "SetChargingProfile"


async def composite(api: Api, station: str, connector: int, **params: Any) -> Any:
    return await api.client.get(
        f"/api/stations/{station}/connectors/{connector}/composite-schedule", params=params
    )


async def test_installed_profiles_are_listed_and_make_the_composite(api: Api) -> None:
    async with peer_station(url_of(api.csms), "SC-1") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
        await peer.call("StatusNotification", connector_id=2, error_code="NoError", status="Available")
        await install(api, peer, "SC-1", 0, profile(1, "ChargePointMaxProfile", 20.0))
        await install(api, peer, "SC-1", 1, profile(2, "TxDefaultProfile", 16.0))
        await install(api, peer, "SC-1", 2, profile(3, "TxDefaultProfile", 32.0))
        # Same stack level and purpose on connector 2: replaces profile 3, as the station does.
        await install(api, peer, "SC-1", 2, profile(4, "TxDefaultProfile", 25.0))

        listed = (await api.client.get("/api/stations/SC-1/charging-profiles")).json()
        by_connector = {
            c["connector"]: [p["chargingProfileId"] for p in c["profiles"]] for c in listed["connectors"]
        }
        assert by_connector == {0: [1], 1: [2], 2: [4]}

        one = (await composite(api, "SC-1", 1, duration=3600, start=DAY)).json()
        schedule = one["computed"]["chargingSchedule"]
        assert [(p["startPeriod"], p["limit"]) for p in schedule["chargingSchedulePeriod"]] == [
            (0, 16.0),
            (1800, 6.0),
        ]
        assert one["station"] is None and one["match"] is None
        two = (await composite(api, "SC-1", 2, duration=3600, start=DAY)).json()
        periods = two["computed"]["chargingSchedule"]["chargingSchedulePeriod"]
        assert [(p["startPeriod"], p["limit"]) for p in periods] == [(0, 20.0), (1800, 6.0)], "capped at 20 A"
        watts = (await composite(api, "SC-1", 0, duration=1800, start=DAY, unit="W")).json()
        [period] = watts["computed"]["chargingSchedule"]["chargingSchedulePeriod"]
        assert (period["limit"], watts["computed"]["chargingSchedule"]["chargingRateUnit"]) == (
            20 * 230 * 3,
            "W",
        )

        cleared = await api.client.post("/api/stations/SC-1/commands/ClearChargingProfile", json={"id": 2})
        assert cleared.status_code == 200
        listed = (await api.client.get("/api/stations/SC-1/charging-profiles")).json()
        assert {c["connector"]: len(c["profiles"]) for c in listed["connectors"]} == {0: 1, 1: 0, 2: 1}
        after = (await composite(api, "SC-1", 1, duration=3600, start=DAY)).json()
        periods = after["computed"]["chargingSchedule"]["chargingSchedulePeriod"]
        assert [(p["startPeriod"], p["limit"]) for p in periods] == [(0, 20.0), (1800, 6.0)]


async def test_source_station_compares_with_what_the_station_says(api: Api) -> None:
    async with peer_station(url_of(api.csms), "SC-2") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
        # The test station answers every GetCompositeSchedule with 16 A from 2026-01-01T00:00Z on.
        flat = profile(5, "TxDefaultProfile", 16.0)
        flat["chargingSchedule"]["chargingSchedulePeriod"] = [{"startPeriod": 0, "limit": 16.0}]
        await install(api, peer, "SC-2", 1, flat)
        agreed = (await composite(api, "SC-2", 1, duration=3600, start=DAY, source="station")).json()
        assert (await peer.next_received())["received"] == "GetCompositeSchedule"
        assert agreed["station"]["status"] == "Accepted" and agreed["match"] is True, agreed
        await install(api, peer, "SC-2", 1, profile(5, "TxDefaultProfile", 16.0))  # 6 A after 30 min
        differs = (await composite(api, "SC-2", 1, duration=3600, start=DAY, source="station")).json()
        assert differs["match"] is False, differs


async def test_clear_errors(api: Api) -> None:
    async with peer_station(url_of(api.csms), "SC-3") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
        cases = [
            ("NOPE", 1, {"duration": 60}, 404, "unknown_station"),
            ("SC-3", 7, {"duration": 60}, 404, "unknown_connector"),
            ("SC-3", 1, {}, 422, "invalid_request"),
            ("SC-3", 1, {"duration": 0}, 422, "invalid_request"),
            ("SC-3", 1, {"duration": 60, "unit": "kW"}, 422, "invalid_request"),
            ("SC-3", 1, {"duration": 60, "start": "2026-01-01"}, 422, "invalid_request"),
            ("SC-3", 1, {"duration": 60, "source": "elsewhere"}, 422, "invalid_request"),
        ]
        for station, connector, params, status, error in cases:
            answer = await composite(api, station, connector, **params)
            assert (answer.status_code, answer.json()["error"]) == (status, error), (params, answer.text)
            assert answer.json()["message"]
        # A profile the station accepted but the model refuses (two periods starting at once).
        odd = profile(6, "TxDefaultProfile", 16.0)
        odd["chargingSchedule"]["chargingSchedulePeriod"][1]["startPeriod"] = 0
        await install(api, peer, "SC-3", 1, odd)
        refused = await composite(api, "SC-3", 1, duration=60, start=DAY)
        assert (refused.status_code, refused.json()["error"]) == (409, "unusable_profile")
        assert "profile 6" in refused.json()["message"]
    missing = await api.client.get("/api/stations/NOPE/charging-profiles")
    assert (missing.status_code, missing.json()["error"]) == (404, "unknown_station")


async def test_a_tx_profile_holds_for_its_transaction_and_ends_with_it_or_a_reboot(api: Api) -> None:
    async with peer_station(url_of(api.csms), "SC-4") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
        for round_ in range(2):
            started = await peer.call(
                "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=DAY
            )
            tx = started["transaction_id"]
            relative = {
                "chargingProfileId": 7,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "transactionId": tx,
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 8.0},
                        {"startPeriod": 600, "limit": 12.0},
                    ],
                },
            }
            await install(api, peer, "SC-4", 1, relative)
            # Relative to the transaction's start (DAY), not to the window's: 10 minutes in, 12 A.
            later = (await composite(api, "SC-4", 1, duration=600, start="2026-01-01T00:05:00Z")).json()
            periods = later["computed"]["chargingSchedule"]["chargingSchedulePeriod"]
            assert [(p["startPeriod"], p["limit"]) for p in periods] == [(0, 8.0), (300, 12.0)]
            if round_ == 0:
                await peer.call("StopTransaction", transaction_id=tx, meter_stop=10, timestamp=DAY)
            else:
                await peer.reconnect()  # a reboot in the middle of the transaction
                await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
            listed = (await api.client.get("/api/stations/SC-4/charging-profiles")).json()
            assert all(c["profiles"] == [] for c in listed["connectors"]), (round_, listed)


async def test_the_station_policy_gives_voltage_phases_and_the_connector_maximum(tmp_path: Path) -> None:
    single_phase = StationPolicy(voltage=240.0, phases=1, connector_max_a=16.0)
    async with open_csms(api_config(tmp_path, stations={"SC-5": single_phase})) as csms:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{csms.api_port}", headers=headers, timeout=20
            ) as client,
            peer_station(url_of(csms), "SC-5") as peer,
        ):
            await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
            await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
            api = Api(csms, client)
            watts = (await composite(api, "SC-5", 1, duration=60, start=DAY, unit="W")).json()
            [period] = watts["computed"]["chargingSchedule"]["chargingSchedulePeriod"]
            assert (period["limit"], period["numberPhases"]) == (16 * 240, 1), (
                "no profile: the connector's max"
            )
            await install(api, peer, "SC-5", 1, profile(2, "TxDefaultProfile", 10.0, unit="A"))
            watts = (await composite(api, "SC-5", 1, duration=60, start=DAY, unit="W")).json()
            [period] = watts["computed"]["chargingSchedule"]["chargingSchedulePeriod"]
            assert period["limit"] == 10 * 240
