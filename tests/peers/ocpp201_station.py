"""A real OCPP 2.0.1 station for tests: the ``ocpp`` package's asyncio v201 ChargePoint over ``websockets``.

Driven exactly like ``ocpp16_station`` (JSON lines on stdin and stdout, same messages), connecting with
subprotocol ``ocpp2.0.1``. Every CSMS-initiated action the 2.0.1 tests send has a handler that answers
like a cooperative charger; GetVariables answers from a small device model that SetVariables changes.
SetVariables of SecurityCtrlr.BasicAuthPassword is answered like the 1.6 peer's AuthorizationKey.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from tests.peers.ocpp16_station import Certificates, emit, main, take_password


class Station201(ChargePoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variables = {("OCPPCommCtrlr", "HeartbeatInterval"): "300"}
        self.certificates = Certificates()

    def seen(self, action: str, payload: dict[str, Any]) -> None:
        emit({"received": action, "payload": payload})

    @on("GetBaseReport")
    def get_base_report(self, **kw: Any) -> Any:
        self.seen("GetBaseReport", kw)
        return call_result.GetBaseReport(status="Accepted")

    @on("GetReport")
    def get_report(self, **kw: Any) -> Any:
        self.seen("GetReport", kw)
        return call_result.GetReport(status="Accepted")

    @on("GetVariables")
    def get_variables(self, **kw: Any) -> Any:
        self.seen("GetVariables", kw)
        results = []
        for item in kw["get_variable_data"]:
            key = (item["component"]["name"], item["variable"]["name"])
            known = key in self.variables
            result = {
                "attribute_status": "Accepted" if known else "UnknownVariable",
                "component": item["component"],
                "variable": item["variable"],
            }
            if known:
                result["attribute_value"] = self.variables[key]
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on("SetVariables")
    def set_variables(self, **kw: Any) -> Any:
        self.seen("SetVariables", kw)
        results = []
        for item in kw["set_variable_data"]:
            key = (item["component"]["name"], item["variable"]["name"])
            known = key in self.variables
            if key == ("SecurityCtrlr", "BasicAuthPassword"):  # write-only: never in GetVariables
                status = take_password(item["attribute_value"])
            elif known:
                self.variables[key] = item["attribute_value"]
                status = "Accepted"
            else:
                status = "UnknownComponent"
            results.append(
                {
                    "attribute_status": status,
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    @on("InstallCertificate")
    def install_certificate(self, **kw: Any) -> Any:
        self.seen("InstallCertificate", kw)
        status = self.certificates.install(kw["certificate_type"], kw["certificate"])
        return call_result.InstallCertificate(status=status)

    @on("GetInstalledCertificateIds")
    def installed_certificates(self, **kw: Any) -> Any:
        self.seen("GetInstalledCertificateIds", kw)
        held = self.certificates.of(kw.get("certificate_type"))
        if not held:
            return call_result.GetInstalledCertificateIds(status="NotFound")
        chains = [{"certificate_type": kind, "certificate_hash_data": data} for kind, data in held]
        return call_result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data_chain=chains)

    @on("DeleteCertificate")
    def delete_certificate(self, **kw: Any) -> Any:
        self.seen("DeleteCertificate", kw)
        return call_result.DeleteCertificate(status=self.certificates.delete(kw["certificate_hash_data"]))

    @on("CertificateSigned")
    def certificate_signed(self, **kw: Any) -> Any:
        self.seen("CertificateSigned", kw)
        return call_result.CertificateSigned(status="Accepted")

    @on("Reset")
    def reset(self, **kw: Any) -> Any:
        self.seen("Reset", kw)
        return call_result.Reset(status="Accepted")

    @on("RequestStartTransaction")
    def request_start(self, **kw: Any) -> Any:
        self.seen("RequestStartTransaction", kw)
        return call_result.RequestStartTransaction(status="Accepted", transaction_id="remote-1")

    @on("RequestStopTransaction")
    def request_stop(self, **kw: Any) -> Any:
        self.seen("RequestStopTransaction", kw)
        return call_result.RequestStopTransaction(status="Accepted")

    @on("UnlockConnector")
    def unlock(self, **kw: Any) -> Any:
        self.seen("UnlockConnector", kw)
        return call_result.UnlockConnector(status="Unlocked")

    @on("TriggerMessage")
    def trigger(self, **kw: Any) -> Any:
        self.seen("TriggerMessage", kw)
        return call_result.TriggerMessage(status="Accepted")

    @on("ChangeAvailability")
    def change_availability(self, **kw: Any) -> Any:
        self.seen("ChangeAvailability", kw)
        return call_result.ChangeAvailability(status="Accepted")

    @on("SetChargingProfile")
    def set_charging_profile(self, **kw: Any) -> Any:
        self.seen("SetChargingProfile", kw)
        return call_result.SetChargingProfile(status="Accepted")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], station_class=Station201, subprotocol="ocpp2.0.1", calls=call))
