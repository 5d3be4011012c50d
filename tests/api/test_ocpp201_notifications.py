"""2.0.1 notifications with the ``ocpp`` package's v201 ChargePoint: charging needs handed to a registered
handler and recorded with its answer; NotifyEvent, SecurityEventNotification and LogStatusNotification
stored as domain events."""

from __future__ import annotations

import re

from actors.events import events_of
from actors.events.station import (
    EVChargingNeedsNotified,
    LogStatusChanged,
    SecurityEventNotified,
    StationEventsNotified,
)
from actors.handlers import IncomingCall
from tests.api.conftest import Api
from tests.integration.conftest import url_of
from tests.integration.peer import peer_station

T0 = "2026-11-27T08:00:00Z"
NEEDS = {
    "requested_energy_transfer": "AC_three_phase",
    "departure_time": "2026-11-27T17:00:00Z",
    "ac_charging_parameters": {
        "energy_amount": 20000,
        "ev_min_current": 6,
        "ev_max_current": 32,
        "ev_max_voltage": 400,
    },
}


async def test_charging_needs_go_to_the_registered_handler_and_notifications_are_stored(api: Api) -> None:
    seen: list[IncomingCall] = []

    def decide(call: IncomingCall) -> dict[str, str]:
        seen.append(call)
        return {"status": "Processing"}  # a schedule will follow

    api.csms.on("NotifyEVChargingNeeds", decide)
    async with peer_station(url_of(api.csms), "NEEDS-1", version="2.0.1") as peer:
        await peer.call(
            "BootNotification", charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
        )
        answer = await peer.call("NotifyEVChargingNeeds", evse_id=1, charging_needs=NEEDS)
        assert answer["status"] == "Processing"
        await peer.call(
            "NotifyEvent",
            generated_at=T0,
            seq_no=0,
            event_data=[
                {
                    "event_id": 7,
                    "timestamp": T0,
                    "trigger": "Alerting",
                    "actual_value": "Faulted",
                    "event_notification_type": "HardWiredMonitor",
                    "component": {"name": "Connector", "evse": {"id": 1, "connector_id": 1}},
                    "variable": {"name": "Problem"},
                    "tech_code": "E12",
                }
            ],
        )
        await peer.call("SecurityEventNotification", type="FirmwareUpdated", timestamp=T0, tech_info="1.2")
        await peer.call("LogStatusNotification", status="Uploaded", request_id=3)

    [call] = seen
    assert (
        call.ocpp_version == "2.0.1"
        and call.payload["chargingNeeds"]["requestedEnergyTransfer"] == "AC_three_phase"
    )
    events = [e for r in await api.csms.store.read_stream("station/NEEDS-1") for e in events_of(r)]
    [needs] = [e for e in events if isinstance(e, EVChargingNeedsNotified)]
    assert (needs.evse, needs.transfer_mode, needs.status) == (1, "AC_three_phase", "Processing")
    assert (needs.energy_wh, needs.min_current_a, needs.max_current_a) == (20000.0, 6.0, 32.0)
    assert needs.departure == "2026-11-27T17:00:00Z"
    [notified] = [e for e in events if isinstance(e, StationEventsNotified)]
    [fault] = notified.events
    assert (fault["component"], fault["evse"], fault["connector"], fault["variable"]) == (
        "Connector",
        1,
        1,
        "Problem",
    )
    assert fault["actual_value"] == "Faulted" and fault["tech_code"] == "E12" and fault["event_id"] == 7
    [security] = [e for e in events if isinstance(e, SecurityEventNotified)]
    assert (security.kind, security.tech_info) == ("FirmwareUpdated", "1.2")
    [log] = [e for e in events if isinstance(e, LogStatusChanged)]
    assert (log.status, log.request_id) == ("Uploaded", 3)
    metrics = (await api.client.get("/metrics")).text
    counted = r'^chargeward_ocpp_frames_in_total\{action="NotifyEVChargingNeeds",outcome="result"\} 1(\.0)?$'
    assert re.search(counted, metrics, re.MULTILINE), "2.0.1 actions are metric labels, not `other`"
