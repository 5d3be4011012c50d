"""What chargeward answers to each station-initiated OCPP 1.6 action, and which domain events follow.

Pure functions of the validated request, the station's state and the fleet policy. The station actor
asks :func:`builtin_response` only when no registered handler answered, then always derives the
domain events from the request and the response actually sent (:func:`domain_events`), so the log
records what the station was told, whoever decided it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from actors.events import Event, IdToken
from actors.events.certificates import FirmwareUpdateRequested
from actors.events.station import (
    Authorized,
    ChargingProfileCleared,
    ChargingProfileSet,
    ConfigurationChanged,
    ConfigurationReported,
    ConnectorStatusChanged,
    DataTransferred,
    DiagnosticsStatusChanged,
    FirmwareStatusChanged,
    LocalListSent,
    LogStatusChanged,
    MeterSampled,
    ReservationCancelled,
    ReservationMade,
    SecurityEventNotified,
    StationBooted,
    TransactionStarted,
    TransactionStopped,
    TransactionStopRepeated,
)
from actors.metering import MeterReadings, normalise_meter_values
from actors.ocpp import security_messages
from actors.policy import BootDecision, FleetPolicy
from actors.station_state import StationState

Events = list[Event]


def wire_time(moment: datetime) -> str:
    """An OCPP timestamp: ISO 8601 in UTC with a Z."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def builtin_response(
    action: str,
    request: Mapping[str, Any],
    *,
    station_id: str,
    state: StationState,
    policy: FleetPolicy,
    now: datetime,
    transaction_id: int | None = None,
) -> dict[str, Any]:
    """chargeward's own answer to ``action`` (used when no handler answered)."""
    if action == "BootNotification":
        decision = policy.boot_decision(station_id, request.get("chargePointVendor"))
        interval = policy.heartbeat_interval if decision is BootDecision.ACCEPTED else 60
        return {"status": decision.value, "currentTime": wire_time(now), "interval": interval}
    if action == "Heartbeat":
        return {"currentTime": wire_time(now)}
    if action == "Authorize":
        return {"idTagInfo": policy.id_tag_info(request["idTag"], now)}
    if action == "StartTransaction":
        if transaction_id is None:
            raise ValueError("StartTransaction needs an allocated transaction id")
        return {"transactionId": transaction_id, "idTagInfo": policy.id_tag_info(request["idTag"], now)}
    if action == "StopTransaction":
        return {"idTagInfo": policy.id_tag_info(request["idTag"], now)} if "idTag" in request else {}
    if action == "DataTransfer":
        return {"status": "UnknownVendorId"}
    if action == "SignCertificate":
        return {"status": "Rejected"}  # no CA configured (adapters.certificate_signing answers otherwise)
    # StatusNotification, MeterValues, the status notifications, SecurityEventNotification
    return {}


def meter_samples(readings: MeterReadings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Normalised readings as the fields of a MeterSampled: its samples and its problems."""
    samples: list[dict[str, Any]] = []
    for s in readings.samples:
        sample: dict[str, Any] = {
            "timestamp": s.timestamp,
            "measurand": s.measurand,
            "unit": s.unit,
            "value": s.value,
        }
        if s.phase is not None:
            sample["phase"] = s.phase
        if s.context != "Sample.Periodic":
            sample["context"] = s.context
        if s.location != "Outlet":
            sample["location"] = s.location
        samples.append(sample)
    for signed in readings.signed:
        samples.append(
            {
                "timestamp": signed.timestamp,
                "measurand": signed.measurand,
                "signed": signed.raw,
                "context": signed.context,
            }
        )
    problems = [{"path": p.path, "raw": p.raw, "reason": p.reason} for p in readings.problems]
    return samples, problems


def _meter_event(connector: int, transaction_id: int | None, meter_value: Any) -> MeterSampled:
    samples, problems = meter_samples(normalise_meter_values(meter_value))
    return MeterSampled(
        connector=connector, transaction_id=transaction_id, samples=samples, problems=problems or None
    )


def domain_events(
    action: str, request: Mapping[str, Any], response: Mapping[str, Any], state: StationState
) -> Events:
    """The domain events that answering ``request`` with ``response`` decides."""
    if action == "BootNotification":
        return [
            StationBooted(
                status=response.get("status"),
                interval=response.get("interval"),
                vendor=request.get("chargePointVendor"),
                model=request.get("chargePointModel"),
                serial=request.get("chargePointSerialNumber") or request.get("chargeBoxSerialNumber"),
                firmware=request.get("firmwareVersion"),
                iccid=request.get("iccid"),
                imsi=request.get("imsi"),
                meter_type=request.get("meterType"),
                meter_serial=request.get("meterSerialNumber"),
            )
        ]
    if action == "StatusNotification":
        return [
            ConnectorStatusChanged(
                connector=request["connectorId"],
                status=request["status"],
                error_code=request["errorCode"],
                info=request.get("info"),
                vendor_error_code=request.get("vendorErrorCode"),
                vendor_id=request.get("vendorId"),
                timestamp=request.get("timestamp"),
            )
        ]
    if action == "Authorize":
        info = response.get("idTagInfo", {})
        return [
            Authorized(
                id_token=IdToken(request["idTag"]),
                status=info.get("status"),
                expiry=info.get("expiryDate"),
                parent=IdToken.of_tag(info.get("parentIdTag")),
            )
        ]
    if action == "StartTransaction":
        info = response.get("idTagInfo", {})
        started = TransactionStarted(
            transaction_id=response["transactionId"],
            connector=request["connectorId"],
            id_token=IdToken(request["idTag"]),
            meter_start_wh=float(request["meterStart"]),
            timestamp=request["timestamp"],
            reservation_id=request.get("reservationId"),
            status=info.get("status"),
            expiry=info.get("expiryDate"),
            parent=IdToken.of_tag(info.get("parentIdTag")),
        )
        return [*_superseded(request, state), started]
    if action == "MeterValues":
        return [_meter_event(request["connectorId"], request.get("transactionId"), request["meterValue"])]
    if action == "StopTransaction":
        return _stop_events(request, response, state)
    if action == "DataTransfer":
        return [
            DataTransferred(
                vendor_id=request["vendorId"],
                message_id=request.get("messageId"),
                data=request.get("data"),
                status=response.get("status"),
            )
        ]
    if action == "DiagnosticsStatusNotification":
        return [DiagnosticsStatusChanged(status=request["status"])]
    if action == "FirmwareStatusNotification":
        return [FirmwareStatusChanged(status=request["status"])]
    if action == "SignedFirmwareStatusNotification":
        return [FirmwareStatusChanged(status=request["status"], request_id=request.get("requestId"))]
    if action == "LogStatusNotification":
        return [LogStatusChanged(status=request["status"], request_id=request.get("requestId"))]
    if action == "SecurityEventNotification":
        return [
            SecurityEventNotified(
                kind=request["type"], timestamp=request["timestamp"], tech_info=request.get("techInfo")
            )
        ]
    return security_messages.station_events(action, request, response)


def _superseded(request: Mapping[str, Any], state: StationState) -> Events:
    """The stop of a transaction still open on the connector where a new one starts.

    A station that starts a transaction on a connector has ended the one before (its StopTransaction
    lost, or never sent); left open it would stay active forever. It ends at the new one's meter
    start, the best reading there is of where it stopped.
    """
    open_tx = state.open_transaction_on(request["connectorId"])
    if open_tx is None:
        return []
    meter_stop = float(request["meterStart"])
    energy = meter_stop - open_tx.meter_start_wh
    return [
        TransactionStopped(
            transaction_id=open_tx.transaction_id,
            connector=open_tx.connector,
            known=True,
            id_token=None,
            start_id_token=open_tx.id_token,
            meter_stop_wh=meter_stop,
            energy_wh=energy if energy >= 0 else None,  # a meter reset in between: unknown
            timestamp=request["timestamp"],
            reason="superseded",
            closed_by="csms",
        )
    ]


def _stop_events(request: Mapping[str, Any], response: Mapping[str, Any], state: StationState) -> Events:
    tx_id = int(request["transactionId"])
    open_tx = state.transactions.get(tx_id)
    meter_stop = float(request["meterStop"])
    if open_tx is None and tx_id in state.recently_stopped:
        return [
            TransactionStopRepeated(
                transaction_id=tx_id,
                id_token=IdToken.of_tag(request.get("idTag")),
                meter_stop_wh=meter_stop,
                timestamp=request["timestamp"],
                reason=request.get("reason", "Local"),
            )
        ]
    connector = open_tx.connector if open_tx is not None else None
    events: Events = []
    if request.get("transactionData"):
        events.append(_meter_event(connector or 0, tx_id, request["transactionData"]))
    events.append(
        TransactionStopped(
            transaction_id=tx_id,
            connector=connector,
            known=open_tx is not None,
            id_token=IdToken.of_tag(request.get("idTag")),
            start_id_token=open_tx.id_token if open_tx is not None else None,
            meter_stop_wh=meter_stop,
            energy_wh=meter_stop - open_tx.meter_start_wh if open_tx is not None else None,
            timestamp=request["timestamp"],
            reason=request.get("reason", "Local"),
            closed_by="station",
            tag_status=response["idTagInfo"].get("status") if "idTagInfo" in response else None,
        )
    )
    return events


def command_events(action: str, request: Mapping[str, Any], response: Mapping[str, Any]) -> Events:
    """Domain events that an accepted CSMS-initiated command decides (beyond CommandCompleted)."""
    status = response.get("status")
    if action == "GetConfiguration":
        return [
            ConfigurationReported(
                keys=[
                    {"key": k.get("key"), "value": k.get("value"), "readonly": k.get("readonly")}
                    for k in response.get("configurationKey", [])
                ],
                unknown=list(response.get("unknownKey", [])),
            )
        ]
    if action == "ChangeConfiguration" and status in ("Accepted", "RebootRequired"):
        return [ConfigurationChanged(key=request["key"], value=request["value"], status=status)]
    if action == "ReserveNow" and status == "Accepted":
        return [
            ReservationMade(
                connector=request["connectorId"],
                reservation_id=request["reservationId"],
                id_token=IdToken(request["idTag"]),
                expiry=request["expiryDate"],
            )
        ]
    if action == "CancelReservation" and status == "Accepted":
        return [ReservationCancelled(reservation_id=request["reservationId"])]
    if action == "SetChargingProfile" and status == "Accepted":
        return [
            ChargingProfileSet(connector=request["connectorId"], profile=dict(request["csChargingProfiles"]))
        ]
    if action == "ClearChargingProfile" and status == "Accepted":
        return [ChargingProfileCleared(criteria=dict(request))]
    if action in security_messages.COMMANDS:
        return security_messages.command_events(action, request, response)
    if action == "UpdateFirmware":
        return [
            FirmwareUpdateRequested(
                location=request["location"], retrieve_date=request["retrieveDate"], signed=False
            )
        ]
    if action == "SignedUpdateFirmware":
        firmware = request["firmware"]
        return [
            FirmwareUpdateRequested(
                location=firmware["location"],
                retrieve_date=firmware["retrieveDateTime"],
                signed=True,
                request_id=request["requestId"],
                status=status,
            )
        ]
    if action == "SendLocalList" and status == "Accepted":
        return [
            LocalListSent(
                version=request["listVersion"],
                update_type=request["updateType"],
                entries=[dict(entry) for entry in request.get("localAuthorizationList", [])],
            )
        ]
    return []
