"""OCPP 2.0.1 beside 1.6: the ``ocpp`` package's v201 ChargePoint against the real server.

One 2.0.1 station (subprotocol ``ocpp2.0.1``) and one 1.6 station connected at once: boot, status,
authorize with typed id tokens, a transaction Started/Updated/Ended with meter values (a repeated
seqNo answered but recorded once, a gap recorded), NotifyReport into the device model, every 2.0.1
command of the provisioning and remote-control blocks through the HTTP API, and the re-run of the
2.0.1 log equal to what was recorded, and the replayed log equal to the live state.
"""

from __future__ import annotations

from typing import Any

import httpx

from actors.events import events_of
from actors.events.station import (
    MeterSampled,
    TransactionEventGap,
    TransactionEventReported,
    TransactionStarted,
    TransactionStopped,
)
from actors.rerun import rerun_station
from adapters.replay import ReplayBound, state_of, stored_records
from tests.api.conftest import Api
from tests.integration.conftest import disconnected, live, url_of
from tests.integration.peer import PeerStation, peer_station

T0 = "2026-11-27T08:00:00Z"


def _meter(
    timestamp: str, value: float, unit: str = "Wh", multiplier: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "timestamp": timestamp,
        "sampled_value": [
            {
                "value": value,
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": unit, "multiplier": multiplier},
                **extra,
            }
        ],
    }


async def _tx_event(peer: PeerStation, kind: str, seq_no: int, **extra: Any) -> dict[str, Any]:
    return await peer.call(
        "TransactionEvent",
        event_type=kind,
        timestamp=T0,
        trigger_reason=extra.pop("trigger_reason", "MeterValuePeriodic"),
        seq_no=seq_no,
        transaction_info={"transaction_id": "tx-201-1", **extra.pop("info", {})},
        evse={"id": 1, "connector_id": 1},
        **extra,
    )


async def _command(api: Api, station: str, action: str, payload: dict[str, Any]) -> httpx.Response:
    return await api.client.post(f"/api/stations/{station}/commands/{action}", json=payload)


async def test_a_201_and_a_16_station_side_by_side(api: Api) -> None:
    url = url_of(api.csms)
    async with peer_station(url, "CP-201", version="2.0.1") as p201, peer_station(url, "CP-16") as p16:
        boot = await p201.call(
            "BootNotification",
            charging_station={"model": "M201", "vendor_name": "Acme", "serial_number": "S-1"},
            reason="PowerUp",
        )
        assert boot["status"] == "Accepted" and boot["interval"] == 120
        assert (await p16.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M16"))[
            "status"
        ] == "Accepted"
        assert "current_time" in await p201.call("Heartbeat")
        await p201.call(
            "StatusNotification", timestamp=T0, connector_status="Occupied", evse_id=1, connector_id=1
        )

        ok = await p201.call("Authorize", id_token={"id_token": "TAG-CHILD", "type": "ISO14443"})
        assert ok["id_token_info"]["status"] == "Accepted"
        assert ok["id_token_info"]["group_id_token"] == {"id_token": "FLEET-1", "type": "Central"}
        unknown = await p201.call("Authorize", id_token={"id_token": "nobody", "type": "eMAID"})
        assert unknown["id_token_info"]["status"] == "Invalid"

        token = {"id_token": "TAG-OK", "type": "ISO14443"}
        started = await _tx_event(
            p201,
            "Started",
            0,
            trigger_reason="Authorized",
            id_token=token,
            meter_value=[_meter(T0, 1000, context="Transaction.Begin")],
        )
        assert started["id_token_info"]["status"] == "Accepted"
        await _tx_event(
            p201, "Updated", 1, meter_value=[_meter(T0, 1.5, "kWh")], info={"charging_state": "Charging"}
        )
        await _tx_event(p201, "Updated", 1, meter_value=[_meter(T0, 1.5, "kWh")])  # a retransmission
        await _tx_event(p201, "Updated", 3, offline=True, meter_value=[_meter(T0, 25, "Wh", multiplier=2)])
        await _tx_event(
            p201,
            "Ended",
            4,
            trigger_reason="EVCommunicationLost",
            info={"stopped_reason": "EVDisconnected"},
            meter_value=[_meter(T0, 4000, context="Transaction.End")],
        )
        await p201.call(
            "NotifyReport",
            request_id=1,
            generated_at=T0,
            seq_no=0,
            report_data=[
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "variable_attribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite"}],
                },
                {
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "Power"},
                    "variable_attribute": [{"value": "0"}, {"type": "MaxSet", "value": "22000"}],
                },
            ],
        )

        state = await live(api.csms)
        assert state.stations["CP-201"].ocpp_version == "2.0.1"
        assert state.stations["CP-16"].ocpp_version == "1.6"
        records = await api.csms.store.read_stream("station/CP-201")
        events = [e for r in records for e in events_of(r)]
        reported = [e for e in events if isinstance(e, TransactionEventReported)]
        assert [e.seq_no for e in reported] == [0, 1, 3, 4], "the repeated seqNo 1 is recorded once"
        assert reported[2].offline and reported[3].stopped_reason == "EVDisconnected"
        assert [(g.expected, g.received) for g in events if isinstance(g, TransactionEventGap)] == [(2, 3)]
        [start] = [e for e in events if isinstance(e, TransactionStarted)]
        assert start.transaction_id == "tx-201-1" and start.evse == 1 and start.meter_start_wh == 1000.0
        assert start.id_token.type == "ISO14443"
        energies = [s["value"] for e in events if isinstance(e, MeterSampled) for s in e.samples]
        assert energies == [1000.0, 1500.0, 2500.0, 4000.0], "kWh and multipliers in Wh, as for 1.6"
        [stop] = [e for e in events if isinstance(e, TransactionStopped)]
        assert stop.energy_wh == 3000.0 and stop.reason == "EVDisconnected"

        tx = (await api.client.get("/api/transactions/tx-201-1")).json()
        assert tx["station_id"] == "CP-201" and tx["energy_wh"] == 3000.0 and len(tx["samples"]) == 4
        started_16 = await p16.call(
            "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=T0
        )
        tx_16 = started_16["transaction_id"]
        listed = (await api.client.get("/api/transactions")).json()
        assert [t["transaction_id"] for t in listed["transactions"]] == [tx_16, "tx-201-1"]
        assert listed["next_after"] is None
        first = (await api.client.get("/api/transactions?limit=1")).json()
        assert [t["transaction_id"] for t in first["transactions"]] == [tx_16]
        assert first["next_after"] == tx_16
        rest = (await api.client.get(f"/api/transactions?limit=1&after={tx_16}")).json()
        assert [t["transaction_id"] for t in rest["transactions"]] == ["tx-201-1"]
        assert rest["next_after"] is None
        running = (await api.client.get("/api/transactions?active=true")).json()["transactions"]
        assert [(t["station_id"], t["transaction_id"]) for t in running] == [("CP-16", tx_16)]
        mine = (await api.client.get("/api/transactions?station=CP-201")).json()["transactions"]
        assert [t["transaction_id"] for t in mine] == ["tx-201-1"]
        after_string = (await api.client.get("/api/transactions?after=s:tx-201-1")).json()
        assert after_string == {"transactions": [], "next_after": None}
        assert (await api.client.get("/api/transactions?after=tx-201-1")).status_code == 422
        station = (await api.client.get("/api/stations/CP-201")).json()
        assert station["ocpp_version"] == "2.0.1" and station["boot"]["vendor"] == "Acme"
        assert [c["status"] for c in station["connectors"]] == ["Occupied"]

        for action, payload, reply in [
            ("GetBaseReport", {"requestId": 2, "reportBase": "FullInventory"}, {"status": "Accepted"}),
            ("GetReport", {"requestId": 3}, {"status": "Accepted"}),
            ("Reset", {"type": "OnIdle"}, {"status": "Accepted"}),
            (
                "RequestStartTransaction",
                {"idToken": {"idToken": "TAG-OK", "type": "Central"}, "remoteStartId": 1},
                {"status": "Accepted", "transactionId": "remote-1"},
            ),
            ("RequestStopTransaction", {"transactionId": "remote-1"}, {"status": "Accepted"}),
            ("UnlockConnector", {"evseId": 1, "connectorId": 1}, {"status": "Unlocked"}),
            ("TriggerMessage", {"requestedMessage": "Heartbeat"}, {"status": "Accepted"}),
            (
                "ChangeAvailability",
                {"operationalStatus": "Inoperative", "evse": {"id": 1}},
                {"status": "Accepted"},
            ),
        ]:
            answer = await _command(api, "CP-201", action, payload)
            assert answer.status_code == 200, (action, answer.text)
            assert answer.json()["payload"] == reply, action
            assert (await p201.next_received())["received"] == action

        interval = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        nothing = {"component": {"name": "Nope"}, "variable": {"name": "X"}}
        set_answer = await _command(
            api,
            "CP-201",
            "SetVariables",
            {"setVariableData": [{**interval, "attributeValue": "60"}, {**nothing, "attributeValue": "1"}]},
        )
        assert [r["attributeStatus"] for r in set_answer.json()["payload"]["setVariableResult"]] == [
            "Accepted",
            "UnknownComponent",
        ]
        get_answer = await _command(api, "CP-201", "GetVariables", {"getVariableData": [interval]})
        assert get_answer.json()["payload"]["getVariableResult"][0]["attributeValue"] == "60"

        await live(api.csms)
        model = (await api.client.get("/api/stations/CP-201/variables")).json()["variables"]
        heartbeat = model["OCPPCommCtrlr/HeartbeatInterval"]
        assert heartbeat["attributes"] == {"Actual": "60"} and heartbeat["mutability"] == {
            "Actual": "ReadWrite"
        }
        assert heartbeat["set"] == {"Actual": {"value": "60", "status": "Accepted"}}
        assert model["EVSE@1/Power"]["attributes"] == {"Actual": "0", "MaxSet": "22000"}
        assert model["Nope/X"]["set"]["Actual"]["status"] == "UnknownComponent"

        # Each station gets only its own version's commands.
        wrong = await _command(api, "CP-201", "RemoteStartTransaction", {"idTag": "TAG-OK"})
        assert wrong.status_code == 404 and wrong.json()["error"] == "not_in_version"
        wrong = await _command(api, "CP-16", "GetVariables", {"getVariableData": [interval]})
        assert wrong.status_code == 404 and wrong.json()["error"] == "not_in_version"
        other = await _command(api, "CP-16", "Reset", {"type": "OnIdle"})
        assert other.status_code == 409 and other.json()["error"] == "wrong_version"
        assert (await _command(api, "CP-16", "Reset", {"type": "Soft"})).status_code == 200

    records = await api.csms.store.read_stream("station/CP-201")
    outcome = rerun_station("CP-201", records, api.csms.config.fleet)
    assert outcome.frames > 20 and outcome.differences == [], outcome.differences[:2]

    # Replay of the whole stored log (both versions' stations) rebuilds the live state, the 2.0.1
    # transaction, its meter samples and the device model included.
    # Both disconnects first: the server logs them after the stations have gone, and a replay read
    # after a later one would otherwise hold more than the live state read before it.
    await disconnected(api.csms, "CP-16")
    live_state = await disconnected(api.csms, "CP-201")
    replayed = state_of([r async for r in stored_records(api.csms.store, None, ReplayBound())])
    assert replayed == live_state
    assert replayed.stations["CP-201"].variables["OCPPCommCtrlr/HeartbeatInterval"]["set"]["Actual"] == {
        "value": "60",
        "status": "Accepted",
    }
