"""Every OCPP 1.6 CSMS-initiated command through ``csms.station(id).call``, answered by the real client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio_websocket
from ocpp.v16 import call as ocpp_call

from actors.commands import Command, CommandTimedOut, InvalidCommand, StationOffline, UnknownStation
from actors.events.station import CommandCompleted
from actors.policy import StationPolicy
from adapters.csms import Csms, open_csms
from tests.integration.conftest import disconnected, make_config, url_of
from tests.integration.peer import peer_station

PROFILE = {
    "chargingProfileId": 9,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "startSchedule": "2026-11-21T00:00:00Z",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}, {"startPeriod": 3600, "limit": 10.0}],
    },
}

# (action, payload, the reply the cooperative client gives, a field its handler must have received)
COMMANDS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, {"status": "Accepted"}, "type"),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, {"status": "Accepted"}, "key"),
    ("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}, {}, "key"),
    ("ClearCache", {}, {"status": "Accepted"}, ""),
    ("RemoteStartTransaction", {"idTag": "TAG-OK", "connectorId": 1}, {"status": "Accepted"}, "id_tag"),
    ("RemoteStopTransaction", {"transactionId": 42}, {"status": "Accepted"}, "transaction_id"),
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}, "type"),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}, "connector_id"),
    (
        "DataTransfer",
        {"vendorId": "acme", "data": "ping"},
        {"status": "Accepted", "data": "pong"},
        "vendor_id",
    ),
    (
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"status": "Accepted"},
        "",
    ),
    (
        "SendLocalList",
        {"listVersion": 7, "updateType": "Full", "localAuthorizationList": [{"idTag": "TAG-OK"}]},
        {"status": "Accepted"},
        "list_version",
    ),
    ("GetLocalListVersion", {}, {"listVersion": 7}, ""),
    (
        "ReserveNow",
        {"connectorId": 1, "expiryDate": "2026-11-21T12:00:00Z", "idTag": "TAG-OK", "reservationId": 5},
        {"status": "Accepted"},
        "reservation_id",
    ),
    ("CancelReservation", {"reservationId": 5}, {"status": "Accepted"}, "reservation_id"),
    (
        "UpdateFirmware",
        {"location": "https://fw.example/f.bin", "retrieveDate": "2026-11-22T00:00:00Z"},
        {},
        "location",
    ),
    ("GetDiagnostics", {"location": "ftp://diag.example/"}, {"fileName": "diag-1.zip"}, "location"),
    (
        "SetChargingProfile",
        {"connectorId": 1, "csChargingProfiles": PROFILE},
        {"status": "Accepted"},
        "connector_id",
    ),
    ("ClearChargingProfile", {"id": 9}, {"status": "Accepted"}, "id"),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600}, {"status": "Accepted"}, "duration"),
]


async def test_every_csms_initiated_command_round_trips(csms: Csms) -> None:
    async with peer_station(url_of(csms), "CMD-1") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        station = csms.station("CMD-1")
        for action, payload, expected, field in COMMANDS:
            reply = await station.call(Command(action, payload))
            for key, value in expected.items():
                assert reply[key] == value, f"{action}: {reply}"
            seen = await peer.next_received()
            assert seen["received"] == action
            if field:
                assert field in seen["payload"], f"{action} reached the client without {field}: {seen}"
    completed = [
        r.data for r in await csms.store.read_stream("station/CMD-1") if r.type == CommandCompleted.TYPE
    ]
    assert [c["action"] for c in completed] == [c[0] for c in COMMANDS]
    assert all(c["outcome"] == "result" for c in completed)
    await csms.live.wait_for(await csms.store.head())
    view = csms.live.state.stations["CMD-1"]
    assert view.configuration == {"HeartbeatInterval": "300", "NumberOfConnectors": "2"}
    assert view.connectors[1].reservation is None, "reserved, then cancelled"
    assert view.connectors[1].charging_profiles == [], "set, then cleared"


async def test_typed_commands_from_the_ocpp_package(csms: Csms) -> None:
    async with peer_station(url_of(csms), "CMD-2") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        reply = await csms.station("CMD-2").call(
            ocpp_call.RemoteStartTransaction(id_tag="TAG-OK", connector_id=2)
        )
        assert reply == {"status": "Accepted"}
        seen = await peer.next_received()
        assert seen["payload"] == {"id_tag": "TAG-OK", "connector_id": 2}


async def test_invalid_commands_are_refused_before_sending(csms: Csms) -> None:
    async with peer_station(url_of(csms), "CMD-3") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        with pytest.raises(InvalidCommand, match="Reset"):
            await csms.station("CMD-3").call(Command("Reset", {"type": "Sideways"}))
        with pytest.raises(InvalidCommand, match=r"not an OCPP 1\.6 action"):
            await csms.station("CMD-3").call(Command("Teleport", {}))


async def test_unknown_and_offline_stations(csms: Csms) -> None:
    with pytest.raises(UnknownStation):
        await csms.station("NEVER").call(Command("Reset", {"type": "Soft"}))
    async with peer_station(url_of(csms), "CMD-4") as peer:
        await peer.call("Heartbeat")
    await disconnected(csms, "CMD-4")
    with pytest.raises(StationOffline):
        await csms.station("CMD-4").call(Command("Reset", {"type": "Soft"}))


async def test_a_command_the_station_never_answers_times_out(tmp_path: Path) -> None:
    """A raw socket that takes the CALL and stays silent: the call fails at the station's call timeout.

    Real clock: MockClock's autojump would leap past the SQLite commit, which runs in a thread.
    """
    config = make_config(tmp_path, default=StationPolicy(call_timeout=0.5))
    async with (
        open_csms(config) as csms,
        trio_websocket.open_websocket_url(f"{url_of(csms)}/CMD-5", subprotocols=["ocpp1.6"]) as ws,
    ):
        await ws.send_message('[2,"b1","Heartbeat",{}]')
        await ws.get_message()
        with pytest.raises(CommandTimedOut, match=r"within 0\.5 s"):
            await csms.station("CMD-5").call(Command("ClearCache", {}))
        assert '"ClearCache"' in await ws.get_message()
        completed = [
            r.data for r in await csms.store.read_stream("station/CMD-5") if r.type == CommandCompleted.TYPE
        ]
        assert completed[-1]["outcome"] == "timeout"


async def test_a_running_connector_actor_follows_reservations_and_profiles(csms: Csms) -> None:
    """Events that name no connector (a cancelled reservation, cleared profiles) still reach it."""
    async with peer_station(url_of(csms), "CMD-6") as peer:
        await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
        station = csms.station("CMD-6")
        assert (await station.connector(1)).reservation is None  # starts the actor
        reserve = {
            "connectorId": 1,
            "expiryDate": "2026-11-21T12:00:00Z",
            "idTag": "TAG-OK",
            "reservationId": 5,
        }
        await station.call(Command("ReserveNow", reserve))
        assert (await station.connector(1)).reservation == {
            "reservation_id": 5,
            "id_tag": "TAG-OK",
            "expiry": reserve["expiryDate"],
        }
        await station.call(Command("CancelReservation", {"reservationId": 5}))
        assert (await station.connector(1)).reservation is None
        await station.call(Command("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE}))
        assert [p["chargingProfileId"] for p in (await station.connector(1)).charging_profiles] == [9]
        await station.call(Command("ClearChargingProfile", {"id": 9}))
        assert (await station.connector(1)).charging_profiles == []
