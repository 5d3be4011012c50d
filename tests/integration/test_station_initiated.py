"""Every OCPP 1.6 station-initiated message, sent by the ``ocpp`` package's own ChargePoint."""

from __future__ import annotations

from typing import Any

import pytest

from actors.events.station import (
    Authorized,
    DataTransferred,
    FrameReceived,
    FrameSent,
    MeterSampled,
    StationBooted,
    StationConnected,
    StationDisconnected,
    TransactionStopped,
)
from adapters.csms import Csms
from core.events import EventRecord
from tests.integration.conftest import disconnected, live, url_of
from tests.integration.peer import PeerCallFailed, PeerStation, peer_station

NOW = "2026-11-21T10:00:00Z"


async def events(csms: Csms, station_id: str, kind: str | None = None) -> list[EventRecord]:
    records = await csms.store.read_stream(f"station/{station_id}")
    return [r for r in records if kind is None or r.type == kind]


async def boot(peer: PeerStation) -> dict[str, Any]:
    return await peer.call(
        "BootNotification",
        charge_point_vendor="Acme",
        charge_point_model="Wallbox 22",
        charge_point_serial_number="SN-1",
        firmware_version="1.2.3",
    )


async def test_boot_heartbeat_status(csms: Csms) -> None:
    async with peer_station(url_of(csms), "CP-1") as peer:
        reply = await boot(peer)
        assert reply["status"] == "Accepted" and reply["interval"] == 120
        assert (await peer.call("Heartbeat"))["current_time"].endswith("Z")
        await peer.call("StatusNotification", connector_id=0, error_code="NoError", status="Available")
        await peer.call(
            "StatusNotification",
            connector_id=1,
            error_code="GroundFailure",
            status="Faulted",
            info="RCD",
            vendor_error_code="E12",
        )
    booted = (await events(csms, "CP-1", StationBooted.TYPE))[0].data
    assert (booted["vendor"], booted["model"], booted["serial"], booted["firmware"]) == (
        "Acme",
        "Wallbox 22",
        "SN-1",
        "1.2.3",
    )
    state = await disconnected(csms, "CP-1")
    station = state.stations["CP-1"]
    assert station.status == "Available" and station.boot["status"] == "Accepted"
    assert station.last_heartbeat is not None and station.connected is False
    connector = station.connectors[1]
    assert (connector.status, connector.error_code, connector.info, connector.vendor_error_code) == (
        "Faulted",
        "GroundFailure",
        "RCD",
        "E12",
    )
    view = await csms.station("CP-1").connector(1)
    assert view.status == "Faulted", "the connector actor agrees with the projection"


async def test_authorize_uses_the_local_list_with_expiry_and_parent(csms: Csms) -> None:
    async with peer_station(url_of(csms), "CP-2") as peer:
        await boot(peer)
        assert (await peer.call("Authorize", id_tag="TAG-OK"))["id_tag_info"] == {"status": "Accepted"}
        child = (await peer.call("Authorize", id_tag="TAG-CHILD"))["id_tag_info"]
        assert child == {"status": "Accepted", "parent_id_tag": "FLEET-1"}
        old = (await peer.call("Authorize", id_tag="TAG-OLD"))["id_tag_info"]
        assert old["status"] == "Expired" and old["expiry_date"].startswith("2020-01-01")
        assert (await peer.call("Authorize", id_tag="TAG-BLOCKED"))["id_tag_info"]["status"] == "Blocked"
        assert (await peer.call("Authorize", id_tag="NOBODY"))["id_tag_info"]["status"] == "Invalid"
    statuses = [r.data["status"] for r in await events(csms, "CP-2", Authorized.TYPE)]
    assert statuses == ["Accepted", "Accepted", "Expired", "Blocked", "Invalid"]


async def test_authorize_handlers_are_plain_callables_and_first_answer_wins(csms: Csms) -> None:
    seen: list[str] = []
    csms.on("Authorize", lambda call: seen.append(call.payload["idTag"]))  # observer: returns None

    async def remote_check(call: Any) -> dict[str, Any] | None:
        return {"idTagInfo": {"status": "Accepted"}} if call.payload["idTag"].startswith("RFID-") else None

    csms.on("Authorize", remote_check)
    async with peer_station(url_of(csms), "CP-3") as peer:
        await boot(peer)
        assert (await peer.call("Authorize", id_tag="RFID-77"))["id_tag_info"]["status"] == "Accepted"
        assert (await peer.call("Authorize", id_tag="NOBODY"))["id_tag_info"]["status"] == "Invalid"
    assert seen == ["RFID-77", "NOBODY"]


async def test_a_failing_handler_gives_internal_error_and_the_station_stays_up(csms: Csms) -> None:
    def broken(call: Any) -> None:
        raise RuntimeError("billing backend down")

    csms.on("DataTransfer", broken)
    async with peer_station(url_of(csms), "CP-4") as peer:
        await boot(peer)
        with pytest.raises(PeerCallFailed, match="InternalError"):
            await peer.call("DataTransfer", vendor_id="acme", message_id="x")
        assert "current_time" in await peer.call("Heartbeat")
    assert csms.fleet.stats.call_errors["InternalError"] == 1


async def test_data_transfer_default_and_vendor_handler(csms: Csms) -> None:
    async with peer_station(url_of(csms), "CP-5") as peer:
        await boot(peer)
        assert (await peer.call("DataTransfer", vendor_id="acme"))["status"] == "UnknownVendorId"
        csms.on(
            "DataTransfer",
            lambda call: {"status": "Accepted", "data": "ok"} if call.payload["vendorId"] == "acme" else None,
        )
        assert await peer.call("DataTransfer", vendor_id="acme", data="ping") == {
            "status": "Accepted",
            "data": "ok",
        }
    transfers = await events(csms, "CP-5", DataTransferred.TYPE)
    assert [t.data["status"] for t in transfers] == ["UnknownVendorId", "Accepted"]


async def test_transaction_with_meter_values_in_si_units(csms: Csms) -> None:
    async with peer_station(url_of(csms), "CP-6") as peer:
        await boot(peer)
        started = await peer.call(
            "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=1000, timestamp=NOW
        )
        tx = started["transaction_id"]
        assert started["id_tag_info"]["status"] == "Accepted"
        sampled = [
            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
            {"value": "2.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
            {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
            {"value": "230.5", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
            {"value": "61", "measurand": "SoC", "unit": "Percent", "location": "EV"},
            {"value": "300", "measurand": "Temperature", "unit": "K", "location": "Body"},
            {"value": "50", "measurand": "Frequency"},
            {"value": "0.98", "measurand": "Power.Factor"},
        ]
        await peer.call(
            "MeterValues",
            connector_id=1,
            transaction_id=tx,
            meter_value=[{"timestamp": NOW, "sampledValue": sampled}],
        )
        stopped = await peer.call(
            "StopTransaction",
            transaction_id=tx,
            meter_stop=4000,
            timestamp=NOW,
            id_tag="TAG-OK",
            reason="EVDisconnected",
            transaction_data=[
                {
                    "timestamp": NOW,
                    "sampledValue": [{"value": "4000", "context": "Transaction.End", "unit": "Wh"}],
                }
            ],
        )
        assert stopped["id_tag_info"]["status"] == "Accepted"
    samples = (await events(csms, "CP-6", MeterSampled.TYPE))[0].data["samples"]
    by_measurand = {(s["measurand"], s.get("phase")): s for s in samples}
    assert by_measurand[("Power.Active.Import", None)]["value"] == 7200.0
    assert by_measurand[("Power.Active.Import", None)]["unit"] == "W"
    assert by_measurand[("Energy.Active.Import.Register", None)]["value"] == 2500.0
    assert by_measurand[("Temperature", None)]["value"] == pytest.approx(26.85)
    assert by_measurand[("SoC", None)]["location"] == "EV"
    stop = (await events(csms, "CP-6", TransactionStopped.TYPE))[0].data
    assert stop["known"] and stop["energy_wh"] == 3000.0 and stop["reason"] == "EVDisconnected"
    state = await live(csms)
    transaction = state.transactions[tx]
    assert (transaction.meter_start_wh, transaction.meter_stop_wh, transaction.energy_wh) == (
        1000,
        4000,
        3000,
    )
    connector = state.stations["CP-6"].connectors[1]
    assert connector.transaction_id is None and connector.soc_percent == 61.0
    assert connector.current_a == {"L1": 16.1} and connector.voltage_v == {"L1-N": 230.5}


async def test_transaction_ids_are_unique_across_stations(csms: Csms) -> None:
    ids = []
    for station in ("CP-7", "CP-8"):
        async with peer_station(url_of(csms), station) as peer:
            await boot(peer)
            for _ in range(3):
                reply = await peer.call(
                    "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=NOW
                )
                ids.append(reply["transaction_id"])
    assert len(set(ids)) == 6


async def test_diagnostics_and_firmware_status(csms: Csms) -> None:
    async with peer_station(url_of(csms), "CP-9") as peer:
        await boot(peer)
        assert await peer.call("DiagnosticsStatusNotification", status="Uploaded") == {}
        assert await peer.call("FirmwareStatusNotification", status="Installed") == {}
    station = (await live(csms)).stations["CP-9"]
    assert (station.diagnostics_status, station.firmware_status) == ("Uploaded", "Installed")


async def test_every_frame_is_in_the_log_before_the_reply(csms: Csms) -> None:
    """Raw frames in and out with connection numbers; each reply follows its domain events."""
    async with peer_station(url_of(csms), "CP-10") as peer:
        await boot(peer)
        await peer.call("Heartbeat")
    await disconnected(csms, "CP-10")
    records = await events(csms, "CP-10")
    types = [r.type for r in records]
    assert types[:1] == [StationConnected.TYPE]
    assert types[1:4] == [FrameReceived.TYPE, StationBooted.TYPE, FrameSent.TYPE]
    assert types[4:6] == [FrameReceived.TYPE, FrameSent.TYPE]
    assert types[-1] == StationDisconnected.TYPE
    frames = [r for r in records if r.type in (FrameReceived.TYPE, FrameSent.TYPE)]
    assert all(r.data["conn"] == 1 for r in frames)
    assert '"BootNotification"' in frames[0].data["text"]
