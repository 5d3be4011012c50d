"""A real OCPP 2.0.1 station for tests: the ``ocpp`` package's asyncio v201 ChargePoint over ``websockets``.

Driven exactly like ``ocpp16_station`` (JSON lines on stdin and stdout, same messages), connecting with
subprotocol ``ocpp2.0.1``. Every CSMS-initiated action the 2.0.1 tests send has a handler that answers
like a cooperative charger; GetVariables answers from a small device model that SetVariables changes.
It keeps the profiles set (GetChargingProfiles answers with a ReportChargingProfiles of them) and the
local list's version, for one connection: a reconnect is a reboot that loses them.
SetVariables of SecurityCtrlr.BasicAuthPassword is answered like the 1.6 peer's AuthorizationKey.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result

from tests.peers.ocpp16_station import Certificates, emit, main, take_password


class Station201(ChargePoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variables = {("OCPPCommCtrlr", "HeartbeatInterval"): "300"}
        self.profiles: dict[int, tuple[int, dict[str, Any]]] = {}  # id -> (evse, profile)
        self.list_version = 0
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
        profile = kw["charging_profile"]
        self.profiles[profile["id"]] = (kw["evse_id"], profile)
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def clear_charging_profile(self, **kw: Any) -> Any:
        self.seen("ClearChargingProfile", kw)
        found = self.profiles.pop(kw.get("charging_profile_id"), None)
        return call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

    @on("GetChargingProfiles")
    def get_charging_profiles(self, **kw: Any) -> Any:
        self.seen("GetChargingProfiles", kw)
        return call_result.GetChargingProfiles(status="Accepted" if self.profiles else "NoProfiles")

    @after("GetChargingProfiles")
    async def report_charging_profiles(self, **kw: Any) -> None:
        by_evse: dict[int, list[dict[str, Any]]] = {}
        for evse, profile in self.profiles.values():
            by_evse.setdefault(evse, []).append(profile)
        for n, (evse, profiles) in enumerate(sorted(by_evse.items())):
            await self.call(
                call.ReportChargingProfiles(
                    request_id=kw["request_id"],
                    charging_limit_source="CSO",
                    evse_id=evse,
                    charging_profile=profiles,
                    tbc=n < len(by_evse) - 1,
                )
            )

    @on("GetCompositeSchedule")
    def get_composite_schedule(self, **kw: Any) -> Any:
        self.seen("GetCompositeSchedule", kw)
        schedule = {
            "evse_id": kw["evse_id"],
            "duration": kw["duration"],
            "schedule_start": "2026-11-27T08:00:00Z",
            "charging_rate_unit": kw.get("charging_rate_unit", "A"),
            "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
        }
        return call_result.GetCompositeSchedule(status="Accepted", schedule=schedule)

    @on("SendLocalList")
    def send_local_list(self, **kw: Any) -> Any:
        self.seen("SendLocalList", kw)
        self.list_version = kw["version_number"]
        return call_result.SendLocalList(status="Accepted")

    @on("GetLocalListVersion")
    def get_local_list_version(self, **kw: Any) -> Any:
        self.seen("GetLocalListVersion", kw)
        return call_result.GetLocalListVersion(version_number=self.list_version)

    @on("ClearCache")
    def clear_cache(self, **kw: Any) -> Any:
        self.seen("ClearCache", kw)
        return call_result.ClearCache(status="Accepted")

    @on("UpdateFirmware")
    def update_firmware(self, **kw: Any) -> Any:
        self.seen("UpdateFirmware", kw)
        return call_result.UpdateFirmware(status="Accepted")

    @on("GetLog")
    def get_log(self, **kw: Any) -> Any:
        self.seen("GetLog", kw)
        return call_result.GetLog(status="Accepted", filename="diagnostics.zip")

    @on("DataTransfer")
    def data_transfer(self, **kw: Any) -> Any:
        self.seen("DataTransfer", kw)
        return call_result.DataTransfer(status="Accepted", data={"echo": kw.get("data")})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], station_class=Station201, subprotocol="ocpp2.0.1", calls=call))
