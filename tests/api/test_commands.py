"""Commands through POST /api/stations/{id}/commands/{Action}, answered by real stations."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import trio_websocket

from actors.events import Event
from actors.events.station import CommandCompleted, FrameSent
from actors.policy import StationPolicy
from actors.station import NotRecorded, StationActor
from adapters.csms import open_csms
from tests.api.conftest import TOKEN, Api, api_config
from tests.integration.conftest import disconnected, url_of
from tests.integration.peer import peer_station
from tests.integration.test_commands import COMMANDS, PROFILE


async def test_every_csms_initiated_command_round_trips(api: Api) -> None:
    async with peer_station(url_of(api.csms), "API-1") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        for action, payload, expected, field in COMMANDS:
            response = await api.client.post(f"/api/stations/API-1/commands/{action}", json=payload)
            assert response.status_code == 200, (action, response.text)
            body = response.json()
            assert (body["station_id"], body["action"]) == ("API-1", action)
            for key, value in expected.items():
                assert body["payload"][key] == value, (action, body)
            seen = await peer.next_received()
            assert seen["received"] == action
            if field:
                assert field in seen["payload"], (action, seen)
    completed = [
        r.data for r in await api.csms.store.read_stream("station/API-1") if r.type == CommandCompleted.TYPE
    ]
    assert [c["action"] for c in completed] == [c[0] for c in COMMANDS]


async def test_a_call_error_is_502_with_its_code(api: Api) -> None:
    """The ocpp package's ChargePoint has no GetLog handler: it answers CALLERROR NotImplemented."""
    async with peer_station(url_of(api.csms), "API-2") as peer:
        await peer.call("Heartbeat")
        response = await api.client.post(
            "/api/stations/API-2/commands/GetLog",
            json={"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": "ftp://x/"}},
        )
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["error"] == "call_error" and body["code"] == "NotImplemented"
    assert "description" in body


async def test_refusals_before_anything_is_sent(api: Api) -> None:
    client = api.client
    unknown = await client.post("/api/stations/NEVER/commands/Reset", json={"type": "Soft"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_station"
    for impossible in ("%0Dx", "%20x", "x%0Ay"):  # ids the log refuses: no station can have them
        refused = await client.post(f"/api/stations/{impossible}/commands/ClearCache", json={})
        assert refused.status_code == 404 and refused.json()["error"] == "unknown_station"
        history = await client.get(f"/api/stations/{impossible}/events")
        assert history.status_code == 404 and history.json()["error"] == "unknown_station"
    async with peer_station(url_of(api.csms), "API-3") as peer:
        await peer.call("Heartbeat")
        bad = await client.post("/api/stations/API-3/commands/Reset", json={"type": "Sideways"})
        assert bad.status_code == 422
        assert bad.json() == {
            "error": "invalid_payload",
            "message": "Reset request: $.type must be one of ['Hard', 'Soft']",
            "details": {"path": "$.type"},
        }
        missing = await client.post("/api/stations/API-3/commands/ChangeAvailability", json={})
        assert missing.status_code == 422 and "connectorId" in missing.json()["message"]
        action = await client.post("/api/stations/API-3/commands/Teleport", json={})
        assert action.status_code == 404 and action.json()["error"] == "not_found", "no such action"
        inbound = await client.post("/api/stations/API-3/commands/BootNotification", json={})
        assert inbound.status_code == 404, "station-initiated actions are not commands"
        not_object = await client.post("/api/stations/API-3/commands/ClearCache", json=[1])
        assert not_object.status_code == 422 and "JSON object" in not_object.json()["message"]
        garbage = await client.post(
            "/api/stations/API-3/commands/ClearCache",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert garbage.status_code == 422 and "not JSON" in garbage.json()["message"]
        huge = await client.post(
            "/api/stations/API-3/commands/RemoteStopTransaction", json={"transactionId": 2**64}
        )
        assert huge.status_code == 422 and huge.json()["details"] == {"path": "$.transactionId"}
        integral = await client.post(
            "/api/stations/API-3/commands/RemoteStopTransaction", json={"transactionId": 7.0}
        )
        assert integral.status_code == 200, "7.0 is an integer in OpenAPI 3.1; the station gets 7"
        assert (await peer.next_received())["payload"] == {"transaction_id": 7}
        schedule: dict[str, Any] = {**PROFILE["chargingSchedule"], "minChargingRate": 10**20}  # type: ignore[dict-item]
        big = {"connectorId": 1, "csChargingProfiles": {**PROFILE, "chargingSchedule": schedule}}
        assert (
            await client.post("/api/stations/API-3/commands/SetChargingProfile", json=big)
        ).status_code == 200
        sent_profile = (await peer.next_received())["payload"]["cs_charging_profiles"]
        assert float(sent_profile["charging_schedule"]["min_charging_rate"]) == 1e20
        oversized = {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "T" * 20}] * 40000,
        }
        too_large = await client.post("/api/stations/API-3/commands/SendLocalList", json=oversized)
        assert too_large.status_code == 413 and too_large.json()["error"] == "too_large"
        form = await client.post("/api/stations/API-3/commands/ClearCache", data={"a": "b"})
        assert form.status_code == 415
        assert (await client.post("/api/stations/API-3/commands/ClearCache", json={})).status_code == 200
    sent = [
        r.data["action"]
        for r in await api.csms.store.read_stream("station/API-3")
        if r.type == CommandCompleted.TYPE
    ]
    assert sent == ["RemoteStopTransaction", "SetChargingProfile", "ClearCache"], (
        "only the valid commands reached the station"
    )
    await disconnected(api.csms, "API-3")
    offline = await client.post("/api/stations/API-3/commands/ClearCache", json={})
    assert offline.status_code == 409 and offline.json()["error"] == "station_offline"


async def test_a_silent_station_is_504(tmp_path: Path) -> None:
    config = api_config(tmp_path, default=StationPolicy(call_timeout=0.5))
    async with (
        open_csms(config) as csms,
        trio_websocket.open_websocket_url(f"{url_of(csms)}/API-4", subprotocols=["ocpp1.6"]) as ws,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client,
    ):
        await ws.send_message('[2,"b1","Heartbeat",{}]')
        await ws.get_message()
        response = await client.post("/api/stations/API-4/commands/ClearCache", json={})
        assert response.status_code == 504, response.text
        assert response.json()["error"] == "timeout" and "0.5 s" in response.json()["message"]
        assert '"ClearCache"' in await ws.get_message(), "the call did go out"


class _CannotRecordCommands(StationActor):
    """A station actor whose store refuses the record of every command it would send."""

    async def _commit(self, events: list[Event], when: datetime) -> None:
        if any(isinstance(event, FrameSent) and event.action is not None for event in events):
            raise NotRecorded("injected: the store could not record this command")
        await super()._commit(events, when)


async def test_a_command_the_store_cannot_record_is_503_with_retry_after_and_not_sent(tmp_path: Path) -> None:
    async with (
        open_csms(api_config(tmp_path), station_actor=_CannotRecordCommands) as csms,
        trio_websocket.open_websocket_url(f"{url_of(csms)}/API-5", subprotocols=["ocpp1.6"]) as ws,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client,
    ):
        await ws.send_message('[2,"b1","Heartbeat",{}]')
        await ws.get_message()
        response = await client.post("/api/stations/API-5/commands/ClearCache", json={})
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "not_recorded" and response.headers["Retry-After"] == "1"
        await ws.send_message('[2,"b2","Heartbeat",{}]')
        assert '"b2"' in await ws.get_message(), "nothing was sent before the next answer"
