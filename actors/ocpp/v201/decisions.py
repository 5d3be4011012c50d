"""What chargeward answers to each station-initiated OCPP 2.0.1 action, and which domain events follow.

The 2.0.1 counterpart of :mod:`actors.ocpp.v16.decisions`, with the same shape: pure functions of the
validated request, the station's state and the fleet policy, mapping frames onto the version-neutral
events of :mod:`actors.events` so projections, the API and metrics treat both versions alike.

How 2.0.1 is mapped where it differs from 1.6:

- EVSE and connector: connector-level events carry ``evse`` = the EVSE id and ``connector`` = the
  EVSE id too. An EVSE is where one transaction runs at a time, the level 1.6's connector id numbers
  (OCPP 2.0.1 part 0, "1.6 connectorId = 2.0.1 evseId"), so the connector folds, limits and
  transactions keyed by ``connector`` keep working. A 2.0.1 connector id within its EVSE (an EVSE
  with two sockets) stays in the raw frame only.
- Transactions: the station names them (string ids). TransactionEvent Started/Updated/Ended become
  TransactionStarted, MeterSampled and TransactionStopped, each with a TransactionEventReported that
  keeps ``seqNo``, ``offline``, the trigger and stopped reasons. A seqNo already recorded for the
  transaction (a retransmission, typically after an offline period) is answered again but decides
  nothing; a seqNo beyond the next one due records a TransactionEventGap. An event for a transaction
  never started here starts it (its Started was lost), an Ended closes it.
- Meter values: the 2.0.1 sampled value (a number with ``unitOfMeasure`` {unit, multiplier}) is
  rewritten into the 1.6 shape and normalised by :mod:`actors.metering`, the same SI units for both.
- Smart charging: profiles set and cleared, and those a station reports, are recorded in 1.6's
  profile shape (:mod:`.profiles` says how), so the server's record of installed profiles and the
  composite schedule serve both versions; limits from outside the CSMS (NotifyChargingLimit,
  ClearedChargingLimit) and the EV's own schedule (NotifyEVChargingSchedule) have events of their own.
- Local list: SendLocalList is recorded as 1.6's (``LocalListSent``) with its entries as sent, each
  an ``idToken`` with its type and ``idTokenInfo``.
- Id tokens keep their type; the local list is looked up by the token's id whatever its type, and
  1.6's idTagInfo becomes 2.0.1's idTokenInfo (expiryDate -> cacheExpiryDateTime, parentIdTag ->
  groupIdToken of type Central).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from actors.events import Event, IdToken, TransactionId
from actors.events.certificates import FirmwareUpdateRequested
from actors.events.station import (
    Authorized,
    ChargingLimitCleared,
    ChargingLimitNotified,
    ChargingProfileCleared,
    ChargingProfileSet,
    ChargingProfilesReported,
    ConnectorStatusChanged,
    DataTransferred,
    EVChargingNeedsNotified,
    EVChargingScheduleNotified,
    FirmwareStatusChanged,
    LocalListSent,
    LogStatusChanged,
    MeterSampled,
    SecurityEventNotified,
    StationBooted,
    StationEventsNotified,
    TransactionEventGap,
    TransactionEventReported,
    TransactionStarted,
    TransactionStopped,
    VariablesRead,
    VariablesReported,
    VariablesSet,
)
from actors.metering import normalise_meter_values
from actors.ocpp import security_messages
from actors.ocpp.v16.decisions import meter_samples, wire_time
from actors.ocpp.v201.profiles import (
    neutral_clear_criteria,
    neutral_profile,
    neutral_schedule,
)
from actors.policy import BootDecision, FleetPolicy
from actors.station_state import StationState

Events = list[Event]

ENERGY_REGISTER = "Energy.Active.Import.Register"
NO_TOKEN = IdToken("", "NoAuthorization")  # a transaction started before (or without) authorization


def id_token_info(policy: FleetPolicy, token: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The 2.0.1 ``idTokenInfo`` the fleet's local list gives ``token``."""
    tag = policy.id_tag_info(token["idToken"], now)
    info: dict[str, Any] = {"status": tag["status"]}
    if "expiryDate" in tag:
        info["cacheExpiryDateTime"] = tag["expiryDate"]
    if "parentIdTag" in tag:
        info["groupIdToken"] = {"idToken": tag["parentIdTag"], "type": "Central"}
    return info


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
        decision = policy.boot_decision(station_id, request["chargingStation"].get("vendorName"))
        interval = policy.heartbeat_interval if decision is BootDecision.ACCEPTED else 60
        return {"status": decision.value, "currentTime": wire_time(now), "interval": interval}
    if action == "Heartbeat":
        return {"currentTime": wire_time(now)}
    if action == "Authorize":
        return {"idTokenInfo": id_token_info(policy, request["idToken"], now)}
    if action == "TransactionEvent":
        token = request.get("idToken")
        return {"idTokenInfo": id_token_info(policy, token, now)} if token else {}
    if action == "DataTransfer":
        return {"status": "UnknownVendorId"}
    if action == "NotifyEVChargingNeeds":
        # On a site whose optimizer plans the need, the schedule follows as the site's
        # SetChargingProfile (K17: Processing); elsewhere nothing will, and the station uses its own.
        return {"status": "Processing" if station_id in policy.planned_stations else "Accepted"}
    if action == "NotifyEVChargingSchedule":
        return {"status": "Accepted"}
    # No certificate authority behind the built-in rules: the security-extension requests fail.
    if action == "Get15118EVCertificate":
        return {"status": "Failed", "exiResponse": ""}
    if action == "GetCertificateStatus":
        return {"status": "Failed"}
    if action == "SignCertificate":
        return {"status": "Rejected"}
    # StatusNotification, MeterValues, NotifyReport, NotifyEvent, SecurityEventNotification, the
    # firmware/log status notifications, charging-limit notifications: an empty answer.
    return {}


def _sampled_as_16(sampled: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.0.1 sampled value in the 1.6 shape :func:`actors.metering.normalise_meter_values` reads."""
    out: dict[str, Any] = {
        k: sampled[k] for k in ("measurand", "phase", "context", "location") if k in sampled
    }
    unit = sampled.get("unitOfMeasure") or {}
    if "unit" in unit:
        out["unit"] = unit["unit"]
    signed = sampled.get("signedMeterValue")
    if isinstance(signed, Mapping):
        out["format"] = "SignedData"
        out["value"] = str(signed.get("signedMeterData", ""))
        return out
    try:
        value = float(sampled["value"]) * 10.0 ** int(unit.get("multiplier", 0))
    except OverflowError:  # a multiplier beyond any float: reported as a value out of range
        value = math.inf
    out["value"] = format(value, "f") if math.isfinite(value) else str(value)
    return out


def meter_values_as_16(meter_value: Any) -> list[dict[str, Any]]:
    """A 2.0.1 ``meterValue`` array in the 1.6 shape (timestamps kept, values scaled)."""
    return [
        {"timestamp": entry["timestamp"], "sampledValue": [_sampled_as_16(s) for s in entry["sampledValue"]]}
        for entry in meter_value
    ]


def _meter_event(evse: int, transaction_id: TransactionId | None, meter_value: Any) -> MeterSampled:
    samples, problems = meter_samples(normalise_meter_values(meter_values_as_16(meter_value)))
    return MeterSampled(
        connector=evse, evse=evse, transaction_id=transaction_id, samples=samples, problems=problems or None
    )


def _energy_register(meter_value: Any) -> float | None:
    """The last Energy.Active.Import.Register reading of ``meter_value``, in Wh."""
    samples, _ = meter_samples(normalise_meter_values(meter_values_as_16(meter_value)))
    found = [s["value"] for s in samples if s.get("measurand") == ENERGY_REGISTER and "value" in s]
    return float(found[-1]) if found else None


def _token(data: Mapping[str, Any] | None) -> IdToken | None:
    return None if data is None else IdToken(data["idToken"], data.get("type"))


def domain_events(
    action: str, request: Mapping[str, Any], response: Mapping[str, Any], state: StationState
) -> Events:
    """The domain events that answering ``request`` with ``response`` decides."""
    if action == "BootNotification":
        station = request["chargingStation"]
        modem = station.get("modem") or {}
        return [
            StationBooted(
                status=response.get("status"),
                interval=response.get("interval"),
                vendor=station.get("vendorName"),
                model=station.get("model"),
                serial=station.get("serialNumber"),
                firmware=station.get("firmwareVersion"),
                iccid=modem.get("iccid"),
                imsi=modem.get("imsi"),
                meter_type=None,
                meter_serial=None,
            )
        ]
    if action == "StatusNotification":
        evse = request["evseId"]
        return [
            ConnectorStatusChanged(
                connector=evse,
                evse=evse,
                status=request["connectorStatus"],
                error_code="NoError",  # 2.0.1 reports faults through NotifyEvent, not here
                info=None,
                vendor_error_code=None,
                vendor_id=None,
                timestamp=request["timestamp"],
            )
        ]
    if action == "Authorize":
        info = response.get("idTokenInfo", {})
        group = info.get("groupIdToken")
        return [
            Authorized(
                id_token=IdToken(request["idToken"]["idToken"], request["idToken"]["type"]),
                status=info.get("status"),
                expiry=info.get("cacheExpiryDateTime"),
                parent=_token(group),
            )
        ]
    if action == "TransactionEvent":
        return transaction_events(request, response, state)
    if action == "MeterValues":
        return [_meter_event(request["evseId"], None, request["meterValue"])]
    if action == "NotifyReport":
        return [
            VariablesReported(
                request_id=request["requestId"],
                seq_no=request["seqNo"],
                tbc=bool(request.get("tbc", False)),
                variables=[_reported(entry) for entry in request.get("reportData", [])],
            )
        ]
    if action == "DataTransfer":
        return [
            DataTransferred(
                vendor_id=request["vendorId"],
                message_id=request.get("messageId"),
                data=request.get("data"),
                status=response.get("status"),
            )
        ]
    if action == "FirmwareStatusNotification":
        return [FirmwareStatusChanged(status=request["status"])]
    if action == "NotifyEVChargingNeeds":
        return [_charging_needs(request, response)]
    if action == "NotifyEvent":
        return [
            StationEventsNotified(
                seq_no=request["seqNo"],
                tbc=bool(request.get("tbc", False)),
                events=[_event_data(entry) for entry in request["eventData"]],
            )
        ]
    if action == "SecurityEventNotification":
        return [
            SecurityEventNotified(
                kind=request["type"], timestamp=request["timestamp"], tech_info=request.get("techInfo")
            )
        ]
    if action == "LogStatusNotification":
        return [LogStatusChanged(status=request["status"], request_id=request.get("requestId"))]
    if action == "ReportChargingProfiles":
        return [
            ChargingProfilesReported(
                request_id=request["requestId"],
                source=request["chargingLimitSource"],
                evse=request["evseId"],
                tbc=bool(request.get("tbc", False)),
                profiles=[neutral_profile(profile) for profile in request["chargingProfile"]],
            )
        ]
    if action == "NotifyChargingLimit":
        limit = request["chargingLimit"]
        return [
            ChargingLimitNotified(
                source=limit["chargingLimitSource"],
                grid_critical=limit.get("isGridCritical"),
                evse=request.get("evseId"),
                schedules=[neutral_schedule(s) for s in request.get("chargingSchedule", [])],
            )
        ]
    if action == "ClearedChargingLimit":
        return [ChargingLimitCleared(source=request["chargingLimitSource"], evse=request.get("evseId"))]
    if action == "NotifyEVChargingSchedule":
        return [
            EVChargingScheduleNotified(
                evse=request["evseId"],
                time_base=request["timeBase"],
                schedule=neutral_schedule(request["chargingSchedule"]),
                status=str(response.get("status", "Accepted")),
            )
        ]
    return security_messages.station_events(action, request, response)


def _event_data(entry: Mapping[str, Any]) -> dict[str, Any]:
    out = _component(entry)
    out.update(
        event_id=entry["eventId"],
        timestamp=entry["timestamp"],
        trigger=entry["trigger"],
        actual_value=entry["actualValue"],
        cleared=entry.get("cleared"),
        tech_code=entry.get("techCode"),
        tech_info=entry.get("techInfo"),
        cause=entry.get("cause"),
        notification_type=entry["eventNotificationType"],
    )
    return out


def _component(data: Mapping[str, Any]) -> dict[str, Any]:
    component = data["component"]
    variable = data["variable"]
    evse = component.get("evse") or {}
    return {
        "component": component["name"],
        "instance": component.get("instance"),
        "evse": evse.get("id"),
        "connector": evse.get("connectorId"),
        "variable": variable["name"],
        "variable_instance": variable.get("instance"),
    }


def _reported(entry: Mapping[str, Any]) -> dict[str, Any]:
    out = _component(entry)
    out["attributes"] = {a.get("type", "Actual"): a.get("value") for a in entry["variableAttribute"]}
    out["mutability"] = {a.get("type", "Actual"): a.get("mutability") for a in entry["variableAttribute"]}
    return out


def _charging_needs(request: Mapping[str, Any], response: Mapping[str, Any]) -> EVChargingNeedsNotified:
    needs = request["chargingNeeds"]
    ac = needs.get("acChargingParameters") or {}
    dc = needs.get("dcChargingParameters") or {}

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return EVChargingNeedsNotified(
        evse=request["evseId"],
        connector=request["evseId"],
        transfer_mode=needs["requestedEnergyTransfer"],
        departure=needs.get("departureTime"),
        energy_wh=number(ac.get("energyAmount", dc.get("energyAmount"))),
        min_current_a=number(ac.get("evMinCurrent")),
        max_current_a=number(ac.get("evMaxCurrent", dc.get("evMaxCurrent"))),
        min_power_w=None,
        max_power_w=number(dc.get("evMaxPower")),
        status=str(response.get("status", "Accepted")),
    )


def transaction_events(
    request: Mapping[str, Any], response: Mapping[str, Any], state: StationState
) -> Events:
    """A TransactionEvent's domain events (see the module docstring for seqNo, gaps and repeats)."""
    info = request["transactionInfo"]
    tx_id: TransactionId = info["transactionId"]
    seq_no: int = request["seqNo"]
    seen = state.transaction_seq_nos.get(tx_id)
    if seen is not None and seq_no in seen:
        return []  # a retransmission: answered, already recorded
    kind = request["eventType"]
    evse = (request.get("evse") or {}).get("id")
    meter_value = request.get("meterValue")
    energy = _energy_register(meter_value) if meter_value else None
    open_tx = state.transactions.get(tx_id)
    events: Events = []
    expected = 0 if seen is None else max(seen) + 1
    if seq_no > expected:
        events.append(TransactionEventGap(transaction_id=tx_id, expected=expected, received=seq_no))
    events.append(
        TransactionEventReported(
            transaction_id=tx_id,
            evse=evse,
            event_type=kind,
            seq_no=seq_no,
            trigger_reason=request["triggerReason"],
            offline=bool(request.get("offline", False)),
            charging_state=info.get("chargingState"),
            stopped_reason=info.get("stoppedReason"),
            energy_wh=energy,
        )
    )
    token = _token(request.get("idToken"))
    status = (response.get("idTokenInfo") or {}).get("status")
    connector = evse if evse is not None else (open_tx.connector if open_tx is not None else 0)
    ended_before = seen is not None and open_tx is None
    if open_tx is None and not ended_before and kind != "Ended":
        events.append(
            TransactionStarted(
                transaction_id=tx_id,
                connector=connector,
                evse=evse if evse is not None else connector,
                id_token=token or NO_TOKEN,
                meter_start_wh=energy if energy is not None else 0.0,
                timestamp=request["timestamp"],
                reservation_id=request.get("reservationId"),
                status=status,
                expiry=None,
                parent=None,
            )
        )
    if meter_value:
        events.append(_meter_event(connector, tx_id, meter_value))
    if kind == "Ended" and not ended_before:
        start = open_tx.meter_start_wh if open_tx is not None else None
        last = state.transaction_energy.get(tx_id)
        stop = energy if energy is not None else last if last is not None else start
        events.append(
            TransactionStopped(
                transaction_id=tx_id,
                connector=connector,
                evse=evse,
                known=open_tx is not None,
                id_token=token,
                start_id_token=open_tx.id_token if open_tx is not None else None,
                meter_stop_wh=stop if stop is not None else 0.0,
                energy_wh=stop - start if stop is not None and start is not None and stop >= start else None,
                timestamp=request["timestamp"],
                reason=info.get("stoppedReason", "Local"),
                closed_by="station",
                tag_status=status,
            )
        )
    return events


def command_events(action: str, request: Mapping[str, Any], response: Mapping[str, Any]) -> Events:
    """Domain events that an answered CSMS-initiated 2.0.1 command decides (beyond CommandCompleted)."""
    status = response.get("status")
    if action == "SetChargingProfile" and status == "Accepted":
        evse = request["evseId"]
        return [
            ChargingProfileSet(connector=evse, evse=evse, profile=neutral_profile(request["chargingProfile"]))
        ]
    if action == "ClearChargingProfile" and status == "Accepted":
        return [ChargingProfileCleared(criteria=neutral_clear_criteria(request))]
    if action == "SendLocalList" and status == "Accepted":
        return [
            LocalListSent(
                version=request["versionNumber"],
                update_type=request["updateType"],
                entries=[dict(entry) for entry in request.get("localAuthorizationList", [])],
            )
        ]
    if action == "GetVariables":
        results = []
        for result in response.get("getVariableResult", []):
            entry = _component(result)
            entry["type"] = result.get("attributeType", "Actual")
            entry["status"] = result["attributeStatus"]
            entry["value"] = result.get("attributeValue")
            results.append(entry)
        return [VariablesRead(results=results)]
    if action == "SetVariables":
        asked = {
            (_key(_component(item)), item.get("attributeType", "Actual")): item["attributeValue"]
            for item in request.get("setVariableData", [])
        }
        results = []
        for result in response.get("setVariableResult", []):
            entry = _component(result)
            entry["type"] = result.get("attributeType", "Actual")
            entry["status"] = result["attributeStatus"]
            entry["value"] = asked.get((_key(entry), entry["type"]))
            results.append(entry)
        return [VariablesSet(results=results)]
    if action in security_messages.COMMANDS:
        return security_messages.command_events(action, request, response)
    if action == "UpdateFirmware":  # 2.0.1's is 1.6's SignedUpdateFirmware, the signature optional
        firmware = request["firmware"]
        return [
            FirmwareUpdateRequested(
                location=firmware["location"],
                retrieve_date=firmware["retrieveDateTime"],
                signed="signature" in firmware,
                request_id=request["requestId"],
                status=str(status),
            )
        ]
    return []


def _key(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(
        entry[k] for k in ("component", "instance", "evse", "connector", "variable", "variable_instance")
    )
