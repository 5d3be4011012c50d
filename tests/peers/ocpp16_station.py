"""A real OCPP 1.6 station for tests: the ``ocpp`` package's asyncio ChargePoint over ``websockets``.

Runs in its own process (asyncio stays out of the server). Driven by JSON lines on stdin:

    {"call": "BootNotification", "payload": {"charge_point_model": "M", ...}}   -> station-initiated call
    {"reconnect": true}                                                          -> drop and reconnect
    {"quit": true}

``PEER_PASSWORD`` makes it send HTTP Basic credentials (user = station id; a new password it accepts,
``PEER_AUTHORIZATION_KEY`` says whether, replaces it for the next connection), ``PEER_CA`` (a CA file)
makes it verify a ``wss://`` server against that CA, and ``PEER_CERT`` (certificate and key in one
file) makes it present a client certificate. A refused connection reports ``{"refused": status}``
and ends the process.

It reports JSON lines on stdout: ``{"connected": true}``, ``{"result": {...}}`` / ``{"error": "..."}``
for each call, and ``{"received": "Reset", "payload": {...}}`` for every CSMS-initiated command it
answered. Every CSMS-initiated 1.6 Core, Firmware, Local list, Reservation, Remote trigger and Smart
charging action has a handler that answers like a cooperative charger; with
``PEER_SECURITY_EXTENSION=1`` so does every one of the security extension (:class:`SecureStation`,
which keeps the certificates it is given).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import os
import ssl
import sys
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


class Certificates:
    """The certificates a peer station holds: InstallCertificate adds one (its hash data made from the
    PEM text), GetInstalledCertificateIds lists them, DeleteCertificate removes one."""

    def __init__(self) -> None:
        self.held: list[tuple[str, dict[str, str]]] = []  # (certificate type, hash data)

    def install(self, certificate_type: str, certificate: str) -> str:
        if "BEGIN CERTIFICATE" not in certificate:
            return "Rejected"
        digest = hashlib.sha256(certificate.encode()).hexdigest()
        data = {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": digest[:64],
            "issuer_key_hash": digest[::-1][:64],
            "serial_number": digest[:16],
        }
        self.held.append((certificate_type, data))
        return "Accepted"

    def of(self, types: list[str] | None) -> list[tuple[str, dict[str, str]]]:
        return [(t, d) for t, d in self.held if not types or t in types]

    def delete(self, hash_data: dict[str, str]) -> str:
        found = [(t, d) for t, d in self.held if d["serial_number"] == hash_data["serial_number"]]
        for entry in found:
            self.held.remove(entry)
        return "Accepted" if found else "NotFound"


def take_password(password: str) -> str:
    """The answer to a new password (``PEER_AUTHORIZATION_KEY``, default Accepted); an accepted one is
    what the next connection authenticates with, as a real station does."""
    status = os.environ.get("PEER_AUTHORIZATION_KEY", "Accepted")
    if status in ("Accepted", "RebootRequired"):
        os.environ["PEER_PASSWORD"] = password
    return status


class Station(ChargePoint):
    def seen(self, action: str, payload: dict[str, Any]) -> None:
        emit({"received": action, "payload": payload})

    @on("ChangeAvailability")
    def change_availability(self, **kw: Any) -> Any:
        self.seen("ChangeAvailability", kw)
        return call_result.ChangeAvailability(status="Accepted")

    @on("ChangeConfiguration")
    def change_configuration(self, **kw: Any) -> Any:
        self.seen("ChangeConfiguration", kw)
        if kw.get("key") == "AuthorizationKey":  # PEER_AUTHORIZATION_KEY: the answer to a new password
            return call_result.ChangeConfiguration(status=take_password(kw["value"]))
        return call_result.ChangeConfiguration(status="Accepted")

    @on("GetConfiguration")
    def get_configuration(self, **kw: Any) -> Any:
        self.seen("GetConfiguration", kw)
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ],
            unknown_key=[
                k for k in kw.get("key", []) if k not in ("HeartbeatInterval", "NumberOfConnectors")
            ],
        )

    @on("CertificateSigned")
    def certificate_signed(self, **kw: Any) -> Any:
        self.seen("CertificateSigned", kw)
        return call_result.CertificateSigned(status="Accepted")

    @on("ClearCache")
    def clear_cache(self, **kw: Any) -> Any:
        self.seen("ClearCache", kw)
        return call_result.ClearCache(status="Accepted")

    @on("RemoteStartTransaction")
    def remote_start(self, **kw: Any) -> Any:
        self.seen("RemoteStartTransaction", kw)
        return call_result.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    def remote_stop(self, **kw: Any) -> Any:
        self.seen("RemoteStopTransaction", kw)
        return call_result.RemoteStopTransaction(status="Accepted")

    @on("Reset")
    def reset(self, **kw: Any) -> Any:
        self.seen("Reset", kw)
        return call_result.Reset(status="Accepted")

    @on("UnlockConnector")
    def unlock(self, **kw: Any) -> Any:
        self.seen("UnlockConnector", kw)
        return call_result.UnlockConnector(status="Unlocked")

    @on("DataTransfer")
    def data_transfer(self, **kw: Any) -> Any:
        self.seen("DataTransfer", kw)
        return call_result.DataTransfer(status="Accepted", data="pong")

    @on("TriggerMessage")
    def trigger(self, **kw: Any) -> Any:
        self.seen("TriggerMessage", kw)
        return call_result.TriggerMessage(status="Accepted")

    @on("SendLocalList")
    def send_local_list(self, **kw: Any) -> Any:
        self.seen("SendLocalList", kw)
        return call_result.SendLocalList(status="Accepted")

    @on("GetLocalListVersion")
    def local_list_version(self, **kw: Any) -> Any:
        self.seen("GetLocalListVersion", kw)
        return call_result.GetLocalListVersion(list_version=7)

    @on("ReserveNow")
    def reserve_now(self, **kw: Any) -> Any:
        self.seen("ReserveNow", kw)
        return call_result.ReserveNow(status="Accepted")

    @on("CancelReservation")
    def cancel_reservation(self, **kw: Any) -> Any:
        self.seen("CancelReservation", kw)
        return call_result.CancelReservation(status="Accepted")

    @on("UpdateFirmware")
    def update_firmware(self, **kw: Any) -> Any:
        self.seen("UpdateFirmware", kw)
        return call_result.UpdateFirmware()

    @on("GetDiagnostics")
    def get_diagnostics(self, **kw: Any) -> Any:
        self.seen("GetDiagnostics", kw)
        return call_result.GetDiagnostics(file_name="diag-1.zip")

    @on("SetChargingProfile")
    def set_profile(self, **kw: Any) -> Any:
        self.seen("SetChargingProfile", kw)
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def clear_profile(self, **kw: Any) -> Any:
        self.seen("ClearChargingProfile", kw)
        return call_result.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    def composite(self, **kw: Any) -> Any:
        self.seen("GetCompositeSchedule", kw)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=kw["connector_id"],
            schedule_start="2026-01-01T00:00:00Z",
            charging_schedule={
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
            },
        )


class SecureStation(Station):
    """A station with the 1.6 security extension (``PEER_SECURITY_EXTENSION=1``); the plain one answers
    its commands CALLERROR NotImplemented, as a charger without the extension does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.certificates = Certificates()

    @on("InstallCertificate")
    def install_certificate(self, **kw: Any) -> Any:
        self.seen("InstallCertificate", kw)
        status = self.certificates.install(kw["certificate_type"], kw["certificate"])
        return call_result.InstallCertificate(status=status)

    @on("GetInstalledCertificateIds")
    def installed_certificates(self, **kw: Any) -> Any:
        self.seen("GetInstalledCertificateIds", kw)
        held = [data for _, data in self.certificates.of([kw["certificate_type"]])]
        if not held:
            return call_result.GetInstalledCertificateIds(status="NotFound")
        return call_result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data=held)

    @on("DeleteCertificate")
    def delete_certificate(self, **kw: Any) -> Any:
        self.seen("DeleteCertificate", kw)
        return call_result.DeleteCertificate(status=self.certificates.delete(kw["certificate_hash_data"]))

    @on("SignedUpdateFirmware")
    def signed_update_firmware(self, **kw: Any) -> Any:
        self.seen("SignedUpdateFirmware", kw)
        return call_result.SignedUpdateFirmware(status="Accepted")

    @on("GetLog")
    def get_log(self, **kw: Any) -> Any:
        self.seen("GetLog", kw)
        return call_result.GetLog(
            status="Accepted", filename=f"{kw['log_type'].lower()}-{kw['request_id']}.log"
        )

    @on("ExtendedTriggerMessage")
    def extended_trigger(self, **kw: Any) -> Any:
        self.seen("ExtendedTriggerMessage", kw)
        return call_result.ExtendedTriggerMessage(status="Accepted")


async def session(
    url: str,
    station_id: str,
    commands: asyncio.Queue[dict[str, Any]],
    station_class: type[ChargePoint] = Station,
    subprotocol: str = "ocpp1.6",
    calls: Any = call,
) -> bool:
    """One connection; returns True when asked to reconnect, False to quit."""
    headers = {}
    if "PEER_PASSWORD" in os.environ:
        basic = base64.b64encode(f"{station_id}:{os.environ['PEER_PASSWORD']}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    context = None
    if url.startswith("wss:"):
        context = ssl.create_default_context(cafile=os.environ.get("PEER_CA"))
        if "PEER_CERT" in os.environ:
            context.load_cert_chain(os.environ["PEER_CERT"])
    offered = [websockets.Subprotocol(subprotocol)]
    async with websockets.connect(
        f"{url}/{station_id}", subprotocols=offered, ssl=context, additional_headers=headers
    ) as ws:
        station = station_class(station_id, ws, response_timeout=10)
        listener = asyncio.create_task(station.start())
        emit({"connected": True})
        try:
            while True:
                command = await commands.get()
                if command.get("quit"):
                    return False
                if command.get("reconnect"):
                    return True
                action, payload = command["call"], command.get("payload", {})
                try:
                    result = await station.call(getattr(calls, action)(**payload), suppress=False)
                    emit({"result": dataclasses.asdict(result)})
                except Exception as error:
                    emit({"error": f"{type(error).__name__}: {error}"})
        finally:
            listener.cancel()


async def main(url: str, station_id: str, **station: Any) -> None:
    """Run connections until stdin ends; ``station``: :func:`session`'s class, subprotocol and calls."""
    commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def read_stdin() -> None:
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            await commands.put(json.loads(line))
        await commands.put({"quit": True})

    stdin_task = asyncio.create_task(read_stdin())
    try:
        while await session(url, station_id, commands, **station):
            pass
    except websockets.InvalidStatus as refused:
        emit({"refused": refused.response.status_code})
    stdin_task.cancel()


if __name__ == "__main__":
    secure = os.environ.get("PEER_SECURITY_EXTENSION") == "1"
    asyncio.run(main(sys.argv[1], sys.argv[2], station_class=SecureStation if secure else Station))
