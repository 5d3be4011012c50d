"""A local controller on a site, end to end: an upstream SetChargingProfile never lifts the site's cap.

A real local ``chargeward serve`` with ``[upstream]`` (a second real ``chargeward serve``) and
``[sites.depot]`` (16 A), and the ``ocpp`` package's 1.6 client as its one station. The upstream sends
TxProfiles through its command API: one above the site's allocation (32 A) leaves the station at the
site's 16 A; one below (10 A) is what the station gets; clearing it gives the site's 16 A back. The
station only ever receives the site actor's own profiles, none above the site's cap. The same holds for
the ``ocpp`` package's 2.0.1 client, with the upstream's profiles in 2.0.1's shapes (TxDefaultProfile
held, ChargingStationMaxProfile relayed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from actors.sites.control import ALLOCATION_PROFILE_ID, FAILSAFE_PROFILE_ID
from tests.integration.peer import PeerStation, peer_station
from tests.integration.upstream_peers import LOCAL_CONFIG, UPSTREAM_CONFIG, chargeward, eventually, ocpp_url
from tests.modbus.conftest import free_port
from tests.modbus_actors.conftest import until

T0 = "2026-11-27T08:00:00Z"

SITE = """
[sites.depot]
max_current = 16
min_current = 6
stations = ["CP-1"]
failsafe_current = 6
round_interval = 1
debounce = 0.1
deadband = 0.5
min_interval = 0
profile_validity = 60
"""


def tx_profile(limit: float, transaction: int | None = None, profile_id: int = 7) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": 5,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }
    if transaction is not None:
        profile["transactionId"] = transaction
    return {"connectorId": 1, "csChargingProfiles": profile}


async def test_an_upstream_profile_is_combined_with_the_site_cap(tmp_path: Path) -> None:
    port = free_port()
    limits: list[tuple[int, float]] = []  # (profile id, limit) of each TxProfile the station received

    async def obey(peer: PeerStation) -> None:
        async for message in peer.received:
            if message["received"] == "SetChargingProfile":
                profile = message["payload"]["cs_charging_profiles"]
                period = profile["charging_schedule"]["charging_schedule_period"][0]
                limits.append((profile["charging_profile_id"], float(period["limit"])))

    def latest() -> float | None:
        tx = [limit for profile_id, limit in limits if profile_id == ALLOCATION_PROFILE_ID + 1]
        return tx[-1] if tx else None

    async with (
        chargeward(tmp_path / "upstream", UPSTREAM_CONFIG, port) as upstream,
        chargeward(tmp_path / "local", LOCAL_CONFIG.format(port=port) + SITE) as local,
        httpx.AsyncClient(base_url=upstream.api_url, timeout=30) as up_api,
        httpx.AsyncClient(base_url=local.api_url, timeout=30) as local_api,
        peer_station(ocpp_url(local), "CP-1") as station,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(obey, station)
        await eventually(
            lambda: local_api.get("/api/upstream"),
            lambda r: r.status_code == 200 and [s["state"] for s in r.json()["stations"]] == ["live"],
        )
        await station.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        await station.call("StartTransaction", connector_id=1, id_tag="T", meter_start=0, timestamp=T0)
        await until(lambda: latest() == 16.0, 30)  # the site's whole 16 A for its one car
        upstream_id = (await up_api.get("/api/transactions")).json()["transactions"][0]["transaction_id"]

        async def upstream_sends(action: str, payload: dict[str, Any]) -> None:
            answer = await up_api.post(f"/api/stations/CP-1/commands/{action}", json=payload)
            assert answer.status_code == 200, answer.text
            assert answer.json()["payload"] == {"status": "Accepted"}

        # Above the site's allocation: held, the station stays at the site's 16 A.
        await upstream_sends("SetChargingProfile", tx_profile(32, upstream_id))
        # Below it: the site's next round sends the upstream's 10 A.
        await upstream_sends("SetChargingProfile", tx_profile(10, upstream_id, profile_id=8))
        await until(lambda: latest() == 10.0, 30)
        # Cleared upstream: the site's 16 A again.
        await upstream_sends("ClearChargingProfile", {"id": 8})
        await until(lambda: latest() == 16.0, 30)
        await upstream_sends("ClearChargingProfile", {})

        # The station only ever got the site's own profiles, never above the site's cap.
        assert {profile_id for profile_id, _ in limits} <= {FAILSAFE_PROFILE_ID, ALLOCATION_PROFILE_ID + 1}
        assert all(limit <= 16.0 for _, limit in limits)
        # The upstream's profiles are in the link's stream, as held.
        answer = await local_api.get("/api/upstream/CP-1/events")
        assert answer.status_code == 200, answer.text
        kinds = [event["type"] for event in answer.json()["events"]]
        assert kinds.count("UpstreamProfileHeld") == 2 and kinds.count("UpstreamProfilesCleared") == 2
        nursery.cancel_scope.cancel()


def profile_201(profile_id: int, purpose: str, stack_level: int, limit: float, evse: int) -> dict[str, Any]:
    """A 2.0.1 SetChargingProfile request, as the upstream sends it."""
    schedule = {
        "id": 1,
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
    }
    return {
        "evseId": evse,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {**schedule, "startSchedule": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}
            ],
        },
    }


async def test_a_2_0_1_upstreams_profiles_are_held_under_the_site_cap(tmp_path: Path) -> None:
    """The same for a 2.0.1 station: a TxDefaultProfile below the site's allocation is what the
    station gets, one above it leaves the station at the site's 16 A, and a ChargingStationMaxProfile
    is relayed as sent (the station takes the lower of it and the site's profile by itself)."""
    port = free_port()
    received: list[dict[str, Any]] = []  # every SetChargingProfile the station was sent

    async def obey(peer: PeerStation) -> None:
        async for message in peer.received:
            if message["received"] == "SetChargingProfile":
                received.append(message["payload"])

    def purpose(payload: dict[str, Any]) -> str:
        return str(payload["charging_profile"]["charging_profile_purpose"])

    def site_limits() -> list[float]:
        return [
            float(p["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]["limit"])
            for p in received
            if purpose(p) == "TxProfile"
        ]

    async with (
        chargeward(tmp_path / "upstream", UPSTREAM_CONFIG, port) as upstream,
        chargeward(
            tmp_path / "local", LOCAL_CONFIG.format(port=port) + SITE.replace("CP-1", "EV-1")
        ) as local,
        httpx.AsyncClient(base_url=upstream.api_url, timeout=30) as up_api,
        httpx.AsyncClient(base_url=local.api_url, timeout=30) as local_api,
        peer_station(ocpp_url(local), "EV-1", version="2.0.1") as station,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(obey, station)
        await eventually(
            lambda: local_api.get("/api/upstream"),
            lambda r: r.status_code == 200 and [s["state"] for s in r.json()["stations"]] == ["live"],
        )
        await station.call(
            "BootNotification", charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
        )
        await station.call(
            "TransactionEvent",
            event_type="Started",
            timestamp=T0,
            trigger_reason="CablePluggedIn",
            seq_no=0,
            transaction_info={"transaction_id": "tx-1"},
            evse={"id": 1, "connector_id": 1},
        )
        await until(lambda: site_limits()[-1:] == [16.0], 30)  # the site's whole 16 A

        async def upstream_sends(action: str, payload: dict[str, Any]) -> None:
            answer = await up_api.post(f"/api/stations/EV-1/commands/{action}", json=payload)
            assert answer.status_code == 200, answer.text
            assert answer.json()["payload"]["status"] == "Accepted"

        # Below the site's allocation: held, and the site's next round sends the upstream's 10 A.
        await upstream_sends("SetChargingProfile", profile_201(7, "TxDefaultProfile", 3, 10, evse=1))
        await until(lambda: site_limits()[-1:] == [10.0], 30)
        # Above it, at a higher stack level (so it is the one in force): the site's 16 A again.
        await upstream_sends("SetChargingProfile", profile_201(8, "TxDefaultProfile", 4, 32, evse=1))
        await until(lambda: site_limits()[-1:] == [16.0], 30)
        # The station-wide maximum goes to the station as the upstream sent it.
        await upstream_sends("SetChargingProfile", profile_201(9, "ChargingStationMaxProfile", 0, 8, evse=0))
        await until(lambda: any(purpose(p) == "ChargingStationMaxProfile" for p in received), 30)

        (relayed,) = [p for p in received if purpose(p) == "ChargingStationMaxProfile"]
        assert relayed["evse_id"] == 0 and relayed["charging_profile"]["id"] == 9
        assert (
            relayed["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]["limit"] == 8
        )
        # Apart from it, the station only ever got the site's own profiles, never above the site's cap.
        others = [p["charging_profile"]["id"] for p in received if p is not relayed]
        assert set(others) <= {FAILSAFE_PROFILE_ID, ALLOCATION_PROFILE_ID + 1}
        assert all(limit <= 16.0 for limit in site_limits())
        answer = await local_api.get("/api/upstream/EV-1/events")
        kinds = [event["type"] for event in answer.json()["events"]]
        assert kinds.count("UpstreamProfileHeld") == 2
        nursery.cancel_scope.cancel()
