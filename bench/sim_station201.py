"""A simulated OCPP 2.0.1 charging station for the load bench: the 1.6 wallbox of
:mod:`bench.sim_station` in 2.0.1's messages.

Boot and status in 2.0.1's shapes (an EVSE 1 with connector 1; 1.6's Preparing/Charging/Finishing
are 2.0.1's Occupied), Authorize with a typed id token, the transaction as TransactionEvent
Started/Ended with a station-made string id, and the load mix's ``MeterValues`` as what a 2.0.1
station sends while charging: a TransactionEvent Updated (trigger MeterValuePeriodic, next seqNo)
carrying ten sampled values as the 1.6 station's, in 2.0.1's sampled-value shape (the offered power
where 1.6 reports a temperature, which 2.0.1 has no measurand for). Heartbeat, StatusNotification,
Authorize and DataTransfer keep their names. Like the 1.6 station it does no I/O.
"""

from __future__ import annotations

from typing import Any

from bench.sim_station import CALLERROR, CALLRESULT, SimStation, _timestamp, encode

# Canned answers to CSMS-initiated 2.0.1 actions: a cooperative station accepts what it can.
_ANSWERS_201: dict[str, dict[str, Any]] = {
    "ChangeAvailability": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "RequestStartTransaction": {"status": "Accepted"},
    "RequestStopTransaction": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "DataTransfer": {"status": "UnknownVendorId"},
    "TriggerMessage": {"status": "Accepted"},
    "SendLocalList": {"status": "Accepted"},
    "GetLocalListVersion": {"versionNumber": 0},
    "SetChargingProfile": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "GetChargingProfiles": {"status": "NoProfiles"},
    "GetCompositeSchedule": {"status": "Rejected"},
    "GetBaseReport": {"status": "Accepted"},
    "GetVariables": {"getVariableResult": []},
    "SetVariables": {"setVariableResult": []},
}
_STATUS_201 = {"Preparing": "Occupied", "Charging": "Occupied", "Finishing": "Occupied"}
_UNITS = {"V": "V", "A": "A", "W": "W", "Wh": "Wh"}


class SimStation201(SimStation):
    """Protocol state and payloads of one simulated 2.0.1 station (the same 11 kW AC wallbox)."""

    subprotocol = "ocpp2.0.1"

    def __init__(self, station_id: str, connectors: int, seed: int) -> None:
        super().__init__(station_id, connectors, seed)
        self.seq_no = 0
        self._transactions = 0

    def boot_notification(self) -> dict[str, Any]:
        return {
            "chargingStation": {
                "vendorName": "chargeward-bench",
                "model": "SIM-11kW",
                "serialNumber": self.station_id,
                "firmwareVersion": "1.0.0",
            },
            "reason": "PowerUp",
        }

    def status_notification(self, connector: int, status: str) -> dict[str, Any]:
        return {
            "timestamp": _timestamp(),
            "connectorStatus": _STATUS_201.get(status, status),
            "evseId": max(connector, 1),
            "connectorId": 1,
        }

    def _token(self) -> dict[str, str]:
        return {"idToken": f"TAG-{self.station_id[-12:]}", "type": "ISO14443"}

    def authorize(self) -> dict[str, Any]:
        return {"idToken": self._token()}

    def _sampled(self, now: float) -> list[dict[str, Any]]:
        """The 1.6 station's ten sampled values in 2.0.1's shape (numbers, unitOfMeasure)."""
        values = self.meter_values(now)["meterValue"][0]["sampledValue"]
        out = []
        for value in values:
            if value["measurand"] == "Temperature":  # not a 2.0.1 measurand: the offered power instead
                out.append({"value": 11000.0, "measurand": "Power.Offered", "unitOfMeasure": {"unit": "W"}})
                continue
            sampled: dict[str, Any] = {"value": float(value["value"]), "measurand": value["measurand"]}
            if "phase" in value:
                sampled["phase"] = value["phase"]
            if value.get("unit") in _UNITS:
                sampled["unitOfMeasure"] = {"unit": _UNITS[value["unit"]]}
            out.append(sampled)
        return out

    def _transaction_event(self, kind: str, trigger: str, now: float | None, **extra: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "eventType": kind,
            "timestamp": _timestamp(),
            "triggerReason": trigger,
            "seqNo": self.seq_no,
            "transactionInfo": {"transactionId": str(self.transaction_id), **extra},
            "evse": {"id": 1, "connectorId": 1},
        }
        if now is not None:
            event["meterValue"] = [{"timestamp": _timestamp(), "sampledValue": self._sampled(now)}]
        self.seq_no += 1
        return event

    def start_call(self) -> tuple[str, dict[str, Any]]:
        self._transactions += 1
        self.transaction_id = f"{self.station_id}-{self._transactions}"
        self.seq_no = 0
        event = self._transaction_event("Started", "Authorized", None, chargingState="Charging")
        event["idToken"] = self._token()
        return "TransactionEvent", event

    def started(self, result: dict[str, Any]) -> None:
        pass  # the station named the transaction itself

    def stop_call(self) -> tuple[str, dict[str, Any]]:
        return "TransactionEvent", self._transaction_event(
            "Ended", "StopAuthorized", None, stoppedReason="Local"
        )

    def call_for(self, action: str, now: float) -> tuple[str, dict[str, Any]]:
        if action == "MeterValues" and self.transaction_id is not None:
            return "TransactionEvent", self._transaction_event("Updated", "MeterValuePeriodic", now)
        if action == "MeterValues":
            return action, {
                "evseId": 1,
                "meterValue": [{"timestamp": _timestamp(), "sampledValue": self._sampled(now)}],
            }
        return action, self.payload_for(action, now)

    def answer(self, frame: list[Any]) -> str:
        msg_id, action = frame[1], frame[2]
        body = _ANSWERS_201.get(action)
        if body is None:
            return encode([CALLERROR, msg_id, "NotImplemented", f"{action} is not simulated", {}])
        return encode([CALLRESULT, msg_id, body])
