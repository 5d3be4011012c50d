"""After a reboot the server gives a real station back what it intended it to have (issue 12).

The station is the ``ocpp`` package's ChargePoint (tests/peers/ocpp16_station.py): it accepts what it
is sent and, like a charger that lost its state in a reboot, reports HeartbeatInterval 300 and local
list version 7 whatever it was told before.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.events import events_of
from actors.events.station import ReconcileFinished, ReconcileStarted, ReconcileStep
from adapters.csms import open_csms
from tests.api.conftest import TOKEN, Api, api_config
from tests.integration.conftest import url_of
from tests.integration.peer import PeerStation, peer_station
from tests.integration.serving import serving

MAX = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "startSchedule": "2026-01-01T00:00:00Z",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32.0}],
    },
}
DEFAULT = {**MAX, "chargingProfileId": 2, "chargingProfilePurpose": "TxDefaultProfile"}
LOCAL_LIST = {
    "listVersion": 3,
    "updateType": "Full",
    "localAuthorizationList": [{"idTag": "TAG-1", "idTagInfo": {"status": "Accepted"}}],
}
# What the operator sets before the reboot: (action, payload).
INTENT: list[tuple[str, dict[str, Any]]] = [
    ("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": MAX}),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": DEFAULT}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),  # the station says 300
    ("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "2"}),  # the station says 2
    ("SendLocalList", LOCAL_LIST),  # the station says version 7
]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with open_csms(api_config(tmp_path)) as csms:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}", headers=headers, timeout=20
        ) as c:
            yield Api(csms, c)


async def set_intent(client: httpx.AsyncClient, peer: PeerStation, station: str) -> None:
    for action, payload in INTENT:
        answer = await client.post(f"/api/stations/{station}/commands/{action}", json=payload)
        assert answer.status_code == 200, answer.text
        assert (await peer.next_received())["received"] == action


async def reconciliation(client: httpx.AsyncClient, station: str, state: str) -> dict[str, Any]:
    """The station's reconciliation once it is in ``state`` (polled: it runs after the Boot reply)."""
    with trio.fail_after(30):
        while True:
            found = (await client.get(f"/api/stations/{station}")).json()["reconciliation"]
            if found is not None and found["state"] == state:
                return found
            await trio.sleep(0.05)


async def test_a_rebooted_station_gets_its_profiles_configuration_and_local_list_back(api: Api) -> None:
    async with peer_station(url_of(api.csms), "REC-1") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
        await set_intent(api.client, peer, "REC-1")
        assert (await api.client.get("/api/stations/REC-1")).json()["reconciliation"] is None

        await peer.reconnect()  # the charger reboots, having lost what it was given
        boot = await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        assert boot["status"] == "Accepted"
        seen = [await peer.next_received() for _ in range(6)]
        assert [s["received"] for s in seen] == [
            "SetChargingProfile",
            "SetChargingProfile",
            "GetConfiguration",
            "ChangeConfiguration",
            "GetLocalListVersion",
            "SendLocalList",
        ]
        assert [(s["payload"]["connector_id"], s["payload"]["cs_charging_profiles"]["charging_profile_id"])
                for s in seen[:2]] == [(0, 1), (1, 2)]  # fmt: skip
        assert sorted(seen[2]["payload"]["key"]) == ["HeartbeatInterval", "NumberOfConnectors"]
        assert seen[3]["payload"] == {"key": "HeartbeatInterval", "value": "60"}, "2 connectors: in sync"
        assert seen[5]["payload"]["list_version"] == 3 and seen[5]["payload"]["update_type"] == "Full"
        assert seen[5]["payload"]["local_authorization_list"][0]["id_tag"] == "TAG-1"

        done = await reconciliation(api.client, "REC-1", "done")
        assert (done["trigger"], done["applied"], done["failed"], done["last_failure"]) == (
            "boot",
            4,
            0,
            None,
        )
        metrics = (await api.client.get("/metrics")).text
        assert 'chargeward_reconciliation_stations{state="done"} 1.0' in metrics, metrics[:3000]
        assert 'chargeward_reconciliation_state{state="done",station="REC-1"} 1.0' in metrics
        listed = (await api.client.get("/api/stations/REC-1/charging-profiles")).json()
        assert {
            c["connector"]: [p["chargingProfileId"] for p in c["profiles"]] for c in listed["connectors"]
        } == {
            0: [1],
            1: [2],
        }
    events = [e for r in await api.csms.store.read_stream("station/REC-1") for e in events_of(r)]
    steps = [(e.kind, e.target, e.outcome) for e in events if isinstance(e, ReconcileStep)]
    assert steps == [
        ("profile", "1", "applied"),
        ("profile", "2", "applied"),
        ("configuration", "HeartbeatInterval", "applied"),
        ("configuration", "NumberOfConnectors", "in_sync"),
        ("local_list", "3", "applied"),
    ]
    assert [e.trigger for e in events if isinstance(e, ReconcileStarted)] == ["boot"]
    assert [e.outcome for e in events if isinstance(e, ReconcileFinished)] == ["done"]


async def test_serve_leaves_an_opted_out_station_alone(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[stations."OPT-OUT"]\nreconcile = false\n')
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args, until=b"(docs at /docs)") as served:
        found = re.search(r"OCPP on (ws://127\.0\.0\.1:\d+/ocpp)", served.banner)
        assert found is not None, served.banner
        async with (
            httpx.AsyncClient(base_url=served.api_url, timeout=20) as client,
            peer_station(found.group(1), "OPT-OUT") as out,
            peer_station(found.group(1), "OPT-IN") as into,
        ):
            for peer, station in ((out, "OPT-OUT"), (into, "OPT-IN")):
                await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
                answer = await client.post(
                    f"/api/stations/{station}/commands/SetChargingProfile",
                    json={"connectorId": 0, "csChargingProfiles": MAX},
                )
                assert answer.status_code == 200, answer.text
                await peer.next_received()
            for peer in (out, into):
                await peer.reconnect()
                await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
            assert (await into.next_received())["received"] == "SetChargingProfile"
            await reconciliation(client, "OPT-IN", "done")
            station = (await client.get("/api/stations/OPT-OUT")).json()
            assert station["reconciliation"] is None and station["connected"] is True
            assert out.received.statistics().current_buffer_used == 0, "nothing was sent to OPT-OUT"
        assert await served.stop() == 0


async def test_the_first_connection_after_a_server_restart_reconciles_without_a_boot(tmp_path: Path) -> None:
    async with open_csms(api_config(tmp_path)) as csms:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{csms.api_port}", headers=headers, timeout=20
            ) as client,
            peer_station(url_of(csms), "REC-2") as peer,
        ):
            await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
            answer = await client.post(
                "/api/stations/REC-2/commands/SetChargingProfile",
                json={"connectorId": 0, "csChargingProfiles": MAX},
            )
            assert answer.status_code == 200, answer.text
    async with open_csms(api_config(tmp_path)) as csms:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{csms.api_port}", headers=headers, timeout=20
            ) as client,
            peer_station(url_of(csms), "REC-2") as peer,  # connects; sends nothing
        ):
            seen = await peer.next_received()
            assert seen["received"] == "SetChargingProfile"
            assert seen["payload"]["cs_charging_profiles"]["charging_profile_id"] == 1
            done = await reconciliation(client, "REC-2", "done")
            assert (done["trigger"], done["applied"]) == ("reconnect", 1)
