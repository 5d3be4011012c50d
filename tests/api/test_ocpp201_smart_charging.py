"""OCPP 2.0.1 smart charging, local list, firmware and diagnostics with the ``ocpp`` package's v201
ChargePoint against the real server: profiles set and cleared through the commands API land in the
server's record (GET charging-profiles, the composite schedule, ``source=station`` asking the station
in 2.0.1's terms), GetChargingProfiles brings ReportChargingProfiles, the station's limit and schedule
notifications are recorded, SendLocalList is recorded like 1.6's, and after a reboot reconciliation
gives the station its profiles and its local list back in 2.0.1's messages; a re-run of the recorded
log decides the same events."""

from __future__ import annotations

from typing import Any

import trio

from actors.events import Event, events_of
from actors.events.certificates import FirmwareUpdateRequested, LogRequested
from actors.events.station import (
    ChargingLimitCleared,
    ChargingLimitNotified,
    ChargingProfilesReported,
    CommandCompleted,
    DataTransferred,
    EVChargingScheduleNotified,
    FirmwareStatusChanged,
    LocalListSent,
    LogStatusChanged,
    ReconcileFinished,
    ReconcileStep,
)
from actors.rerun import rerun_station
from adapters.replay import ReplayBound, state_of, stored_records
from tests.api.conftest import Api
from tests.integration.conftest import live, url_of
from tests.integration.peer import PeerStation, peer_station

T0 = "2026-11-27T08:00:00Z"
DAY = "2026-11-27T00:00:00Z"


def _profile(ident: int, purpose: str, limit: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 100 + ident,
                "startSchedule": DAY,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            }
        ],
        **extra,
    }


async def _command(api: Api, peer: PeerStation, station: str, action: str, payload: dict[str, Any]) -> Any:
    answer = await api.client.post(f"/api/stations/{station}/commands/{action}", json=payload)
    assert answer.status_code == 200, (action, answer.text)
    assert (await peer.next_received())["received"] == action
    return answer.json()["payload"]


async def _events(api: Api, station: str) -> list[Event]:
    await live(api.csms)
    return [e for r in await api.csms.store.read_stream(f"station/{station}") for e in events_of(r)]


async def _until(api: Api, station: str, kind: type[Event], count: int = 1) -> list[Any]:
    with trio.fail_after(30):
        while True:
            found = [e for e in await _events(api, station) if isinstance(e, kind)]
            if len(found) >= count:
                return found
            await trio.sleep(0.05)


async def _reconciled(api: Api, station: str) -> list[ReconcileStep]:
    [finished] = await _until(api, station, ReconcileFinished)
    assert finished.outcome == "done", finished
    return [e for e in await _events(api, station) if isinstance(e, ReconcileStep)]


async def test_201_profiles_limits_and_reconciliation(api: Api) -> None:
    station = "SC-201"
    async with peer_station(url_of(api.csms), station, version="2.0.1") as peer:
        boot = {"charging_station": {"model": "M", "vendor_name": "Acme"}, "reason": "PowerUp"}
        await peer.call("BootNotification", **boot)
        await peer.call(
            "StatusNotification", timestamp=T0, connector_status="Occupied", evse_id=1, connector_id=1
        )
        await peer.call(
            "TransactionEvent",
            event_type="Started",
            timestamp=T0,
            trigger_reason="Authorized",
            seq_no=0,
            transaction_info={"transaction_id": "tx-sc"},
            evse={"id": 1, "connector_id": 1},
            id_token={"id_token": "TAG-OK", "type": "ISO14443"},
        )
        for evse, profile in [
            (0, _profile(1, "ChargingStationMaxProfile", 20.0)),
            (1, _profile(2, "TxDefaultProfile", 10.0)),
            (1, _profile(3, "TxProfile", 8.0, transactionId="tx-sc")),
        ]:
            reply = await _command(
                api, peer, station, "SetChargingProfile", {"evseId": evse, "chargingProfile": profile}
            )
            assert reply == {"status": "Accepted"}

        held = (await api.client.get(f"/api/stations/{station}/charging-profiles")).json()["connectors"]
        by_connector = {c["connector"]: c["profiles"] for c in held}
        assert {n: [p["chargingProfileId"] for p in ps] for n, ps in by_connector.items()} == {
            0: [1],
            1: [2, 3],
        }
        assert by_connector[0][0]["chargingProfilePurpose"] == "ChargePointMaxProfile"
        assert by_connector[1][1]["transactionId"] == "tx-sc"
        assert by_connector[1][1]["chargingSchedule"] == {
            "startSchedule": DAY,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.0}],
        }

        url = (
            f"/api/stations/{station}/connectors/1/composite-schedule?duration=3600&start={T0}&source=station"
        )
        composite = (await api.client.get(url)).json()
        assert composite["computed"]["chargingSchedule"]["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 8.0, "numberPhases": 3}
        ], "the transaction's TxProfile, under the station's maximum"
        asked = await peer.next_received()
        assert asked["received"] == "GetCompositeSchedule"
        assert asked["payload"] == {"evse_id": 1, "duration": 3600, "charging_rate_unit": "A"}
        assert composite["station"]["connectorId"] == 1 and composite["match"] is False  # it says 16 A

        cleared = await _command(api, peer, station, "ClearChargingProfile", {"chargingProfileId": 2})
        assert cleared == {"status": "Accepted"}
        reported = await _command(
            api, peer, station, "GetChargingProfiles", {"requestId": 9, "chargingProfile": {}}
        )
        assert reported == {"status": "Accepted"}
        reports = await _until(api, station, ChargingProfilesReported, 2)
        assert [(r.evse, r.tbc, [p["chargingProfileId"] for p in r.profiles]) for r in reports] == [
            (0, True, [1]),
            (1, False, [3]),
        ]
        assert reports[0].request_id == 9 and reports[0].source == "CSO"

        schedule = {
            "id": 1,
            "charging_rate_unit": "W",
            "charging_schedule_period": [{"start_period": 0, "limit": 7400}],
        }
        await peer.call(
            "NotifyChargingLimit",
            charging_limit={"charging_limit_source": "EMS", "is_grid_critical": True},
            evse_id=1,
            charging_schedule=[schedule],
        )
        await peer.call("ClearedChargingLimit", charging_limit_source="EMS", evse_id=1)
        answer = await peer.call(
            "NotifyEVChargingSchedule", time_base=T0, evse_id=1, charging_schedule=schedule
        )
        assert answer["status"] == "Accepted"
        await peer.call(
            "TransactionEvent",
            event_type="Ended",
            timestamp=T0,
            trigger_reason="StopAuthorized",
            seq_no=1,
            transaction_info={"transaction_id": "tx-sc", "stopped_reason": "Local"},
            evse={"id": 1, "connector_id": 1},
        )
        events = await _events(api, station)
        [limit] = [e for e in events if isinstance(e, ChargingLimitNotified)]
        assert (limit.source, limit.grid_critical, limit.evse) == ("EMS", True, 1)
        assert limit.schedules == [
            {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}]}
        ]
        [gone] = [e for e in events if isinstance(e, ChargingLimitCleared)]
        assert (gone.source, gone.evse) == ("EMS", 1)
        [ev] = [e for e in events if isinstance(e, EVChargingScheduleNotified)]
        assert (ev.evse, ev.time_base, ev.status) == (1, T0, "Accepted")
        held = (await api.client.get(f"/api/stations/{station}/charging-profiles")).json()["connectors"]
        assert {c["connector"]: [p["chargingProfileId"] for p in c["profiles"]] for c in held} == {
            0: [1],
            1: [],
        }

        # The re-run (actors.rerun) does not replay reconciliation's follow-up, for either version: the
        # log up to the reboot.
        records = await api.csms.store.read_stream(f"station/{station}")
        outcome = rerun_station(station, records, api.csms.config.fleet)
        assert outcome.frames > 10 and outcome.differences == [], outcome.differences[:2]

        await peer.reconnect()  # a reboot: the station has lost its profiles
        await peer.call("BootNotification", **boot)
        resent = await peer.next_received()
        assert resent["received"] == "SetChargingProfile"
        assert resent["payload"]["evse_id"] == 0
        assert resent["payload"]["charging_profile"]["id"] == 1
        assert (
            resent["payload"]["charging_profile"]["charging_profile_purpose"] == "ChargingStationMaxProfile"
        )
        assert resent["payload"]["charging_profile"]["charging_schedule"][0]["id"] == 1
        steps = await _reconciled(api, station)
        assert [(s.kind, s.target, s.outcome) for s in steps] == [("profile", "1", "applied")]
        await _replay_equals_live(api)


async def test_201_local_list_firmware_logs_and_data_transfer(api: Api) -> None:
    station = "LL-201"
    entry = {"idToken": {"idToken": "TAG-1", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}
    async with peer_station(url_of(api.csms), station, version="2.0.1") as peer:
        boot = {"charging_station": {"model": "M", "vendor_name": "Acme"}, "reason": "PowerUp"}
        await peer.call("BootNotification", **boot)
        sent = await _command(
            api,
            peer,
            station,
            "SendLocalList",
            {"versionNumber": 3, "updateType": "Full", "localAuthorizationList": [entry]},
        )
        assert sent == {"status": "Accepted"}
        assert await _command(api, peer, station, "GetLocalListVersion", {}) == {"versionNumber": 3}
        assert await _command(api, peer, station, "ClearCache", {}) == {"status": "Accepted"}
        firmware = {
            "requestId": 1,
            "firmware": {"location": "https://fw.example/1.bin", "retrieveDateTime": T0},
        }
        assert await _command(api, peer, station, "UpdateFirmware", firmware) == {"status": "Accepted"}
        await peer.call("FirmwareStatusNotification", status="Downloaded", request_id=1)
        log = {"logType": "DiagnosticsLog", "requestId": 2, "log": {"remoteLocation": "ftp://logs.example/"}}
        assert await _command(api, peer, station, "GetLog", log) == {
            "status": "Accepted",
            "filename": "diagnostics.zip",
        }
        await peer.call("LogStatusNotification", status="Uploaded", request_id=2)
        transfer = {"vendorId": "Acme", "messageId": "ping", "data": "x"}
        assert await _command(api, peer, station, "DataTransfer", transfer) == {
            "status": "Accepted",
            "data": {"echo": "x"},
        }
        answer = await peer.call("DataTransfer", vendor_id="Acme", message_id="hello", data="y")
        assert answer["status"] == "UnknownVendorId"

        events = await _events(api, station)
        [listed] = [e for e in events if isinstance(e, LocalListSent)]
        assert (listed.version, listed.update_type, listed.entries) == (3, "Full", [entry])
        [update] = [e for e in events if isinstance(e, FirmwareUpdateRequested)]
        assert (update.location, update.request_id, update.signed, update.status) == (
            "https://fw.example/1.bin",
            1,
            False,
            "Accepted",
        )
        [asked] = [e for e in events if isinstance(e, LogRequested)]
        assert (asked.log_type, asked.request_id, asked.filename) == ("DiagnosticsLog", 2, "diagnostics.zip")
        assert [e.status for e in events if isinstance(e, FirmwareStatusChanged)] == ["Downloaded"]
        assert [(e.status, e.request_id) for e in events if isinstance(e, LogStatusChanged)] == [
            ("Uploaded", 2)
        ]
        [transferred] = [e for e in events if isinstance(e, DataTransferred)]
        assert (transferred.vendor_id, transferred.data, transferred.status) == (
            "Acme",
            "y",
            "UnknownVendorId",
        )
        completed = [e.action for e in events if isinstance(e, CommandCompleted) and e.outcome == "result"]
        assert completed == [
            "SendLocalList",
            "GetLocalListVersion",
            "ClearCache",
            "UpdateFirmware",
            "GetLog",
            "DataTransfer",
        ]

        await peer.reconnect()  # a reboot that lost the list
        await peer.call("BootNotification", **boot)
        assert (await peer.next_received())["received"] == "GetLocalListVersion"
        resent = await peer.next_received()
        assert resent["received"] == "SendLocalList"
        assert resent["payload"] == {
            "version_number": 3,
            "update_type": "Full",
            "local_authorization_list": [
                {
                    "id_token": {"id_token": "TAG-1", "type": "ISO14443"},
                    "id_token_info": {"status": "Accepted"},
                }
            ],
        }
        steps = await _reconciled(api, station)
        assert [(s.kind, s.target, s.outcome) for s in steps] == [("local_list", "3", "applied")]
        await _replay_equals_live(api)


async def _replay_equals_live(api: Api) -> None:
    """Replaying the whole stored 2.0.1 log rebuilds the live state (profiles, limits, lists)."""
    live_state = await live(api.csms)
    replayed = state_of([r async for r in stored_records(api.csms.store, None, ReplayBound())])
    assert replayed == live_state
