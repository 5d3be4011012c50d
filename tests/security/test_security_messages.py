"""The certificate, signed firmware and log messages end to end, through ``chargeward serve`` with a TOML
config: commands sent over the API to the ``ocpp`` package's ChargePoints (1.6 with the security
extension, and 2.0.1), their answers and the stations' notifications recorded as domain events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trustme

from tests.integration.peer import peer_station
from tests.integration.serving import serving
from tests.security.test_certificate_signing import request
from tests.security.test_station_auth import ocpp_port

pytestmark = pytest.mark.slow

BOOT_16 = {"charge_point_vendor": "V", "charge_point_model": "M"}
BOOT_201 = {"charging_station": {"model": "M", "vendor_name": "V"}, "reason": "PowerUp"}


async def domain_events(api: httpx.AsyncClient, station_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/stations/{station_id}/events", params={"after": 0, "limit": 500})
    assert response.status_code == 200, response.text
    return [
        e
        for e in response.json()["events"]
        if e["type"] not in ("FrameReceived", "FrameSent", "CommandCompleted")
    ]


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == kind]


async def command(
    api: httpx.AsyncClient, station_id: str, action: str, payload: dict[str, Any]
) -> httpx.Response:
    return await api.post(f"/api/stations/{station_id}/commands/{action}", json=payload)


async def test_security_messages_of_both_versions(tmp_path: Path) -> None:
    ca = trustme.CA()
    root = ca.cert_pem.bytes().decode()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ca.private_key_pem.write_to_path(str(tmp_path / "ca.key"))
    config = tmp_path / "c.toml"
    config.write_text(f'[server]\nca_cert = "{tmp_path / "ca.pem"}"\nca_key = "{tmp_path / "ca.key"}"\n')
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        url = f"ws://127.0.0.1:{ocpp_port(served)}/ocpp"
        async with (
            peer_station(url, "SEC-16", env={"PEER_SECURITY_EXTENSION": "1"}) as cp16,
            peer_station(url, "SEC-201", "2.0.1") as cp201,
            httpx.AsyncClient(base_url=served.api_url, timeout=30) as api,
        ):
            assert (await cp16.call("BootNotification", **BOOT_16))["status"] == "Accepted"
            assert (await cp201.call("BootNotification", **BOOT_201))["status"] == "Accepted"

            # A certificate that is not one never reaches the station.
            bad = await command(
                api,
                "SEC-16",
                "InstallCertificate",
                {"certificateType": "CentralSystemRootCertificate", "certificate": "x"},
            )
            assert bad.status_code == 422 and bad.json()["details"]["path"] == "certificate", bad.text

            for station_id, kind in (
                ("SEC-16", "CentralSystemRootCertificate"),
                ("SEC-201", "CSMSRootCertificate"),
            ):
                installed = await command(
                    api, station_id, "InstallCertificate", {"certificateType": kind, "certificate": root}
                )
                assert installed.status_code == 200 and installed.json()["payload"]["status"] == "Accepted"
            listed_16 = await command(
                api,
                "SEC-16",
                "GetInstalledCertificateIds",
                {"certificateType": "CentralSystemRootCertificate"},
            )
            (held_16,) = listed_16.json()["payload"]["certificateHashData"]
            listed_201 = await command(api, "SEC-201", "GetInstalledCertificateIds", {})
            (chain,) = listed_201.json()["payload"]["certificateHashDataChain"]
            for station_id, held in (("SEC-16", held_16), ("SEC-201", chain["certificateHashData"])):
                deleted = await command(api, station_id, "DeleteCertificate", {"certificateHashData": held})
                assert deleted.json()["payload"]["status"] == "Accepted"
                again = await command(api, station_id, "DeleteCertificate", {"certificateHashData": held})
                assert again.json()["payload"]["status"] == "NotFound"
            empty = await command(
                api,
                "SEC-16",
                "GetInstalledCertificateIds",
                {"certificateType": "CentralSystemRootCertificate"},
            )
            assert empty.json()["payload"]["status"] == "NotFound"

            # 1.6 signed firmware and logs, and what the station reports of them.
            firmware = {
                "location": "https://fw.example/v2.bin",
                "retrieveDateTime": "2026-11-27T10:00:00Z",
                "signingCertificate": root,
                "signature": "c2lnbmF0dXJl",
            }
            signed = await command(
                api, "SEC-16", "SignedUpdateFirmware", {"requestId": 7, "firmware": firmware}
            )
            assert signed.json()["payload"]["status"] == "Accepted", signed.text
            log = await command(
                api,
                "SEC-16",
                "GetLog",
                {
                    "logType": "SecurityLog",
                    "requestId": 8,
                    "log": {"remoteLocation": "https://logs.example/"},
                },
            )
            assert log.json()["payload"] == {"status": "Accepted", "filename": "securitylog-8.log"}
            trigger = await command(
                api, "SEC-16", "ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"}
            )
            assert trigger.json()["payload"]["status"] == "Accepted"
            assert (
                await cp16.call("SignedFirmwareStatusNotification", status="Downloading", request_id=7) == {}
            )
            assert await cp16.call("LogStatusNotification", status="Uploading", request_id=8) == {}
            security_event = {
                "type": "FirmwareUpdated",
                "timestamp": "2026-11-27T10:05:00Z",
                "tech_info": "v2",
            }
            assert await cp16.call("SecurityEventNotification", **security_event) == {}
            # A request that is not a CSR is refused; a 2.0.1 station's good one is signed and delivered.
            not_a_csr = await cp16.call("SignCertificate", csr="-----BEGIN CERTIFICATE REQUEST-----")
            assert not_a_csr["status"] == "Rejected"
            signing = await cp201.call(
                "SignCertificate", csr=request("SEC-201")[1], certificate_type="ChargingStationCertificate"
            )
            assert signing["status"] == "Accepted"
            delivered = await cp201.next_received()
            while delivered["received"] != "CertificateSigned":  # the commands it answered before
                delivered = await cp201.next_received()
            assert "BEGIN CERTIFICATE" in delivered["payload"]["certificate_chain"]
            for _ in range(150):  # its answer is recorded just after the station sent it
                if of_type(await domain_events(api, "SEC-201"), "CertificateDelivered"):
                    break
                await trio.sleep(0.2)

            events_16 = await domain_events(api, "SEC-16")
            events_201 = await domain_events(api, "SEC-201")
        assert await served.stop() == 0

    assert of_type(events_16, "CertificateInstalled") == [
        {"certificate_type": "CentralSystemRootCertificate", "status": "Accepted"}
    ]
    assert of_type(events_201, "CertificateInstalled") == [
        {"certificate_type": "CSMSRootCertificate", "status": "Accepted"}
    ]
    reported_16 = of_type(events_16, "InstalledCertificatesReported")
    assert [r["status"] for r in reported_16] == ["Accepted", "NotFound"]
    assert reported_16[0]["certificate_types"] == ["CentralSystemRootCertificate"]
    assert reported_16[0]["certificates"] == [
        {
            "certificate_type": "CentralSystemRootCertificate",
            "hash_algorithm": "SHA256",
            "issuer_name_hash": held_16["issuerNameHash"],
            "issuer_key_hash": held_16["issuerKeyHash"],
            "serial_number": held_16["serialNumber"],
        }
    ]
    (reported_201,) = of_type(events_201, "InstalledCertificatesReported")
    assert reported_201["certificate_types"] == []
    assert [c["certificate_type"] for c in reported_201["certificates"]] == ["CSMSRootCertificate"]
    for events in (events_16, events_201):
        deleted = of_type(events, "CertificateDeleted")
        assert [d["status"] for d in deleted] == ["Accepted", "NotFound"]
        assert deleted[0]["certificate"]["hash_algorithm"] == "SHA256"
    assert of_type(events_16, "FirmwareUpdateRequested") == [
        {
            "location": "https://fw.example/v2.bin",
            "retrieve_date": "2026-11-27T10:00:00Z",
            "signed": True,
            "request_id": 7,
            "status": "Accepted",
        }
    ]
    assert of_type(events_16, "FirmwareStatusChanged") == [{"status": "Downloading", "request_id": 7}]
    assert of_type(events_16, "LogRequested") == [
        {
            "request_id": 8,
            "log_type": "SecurityLog",
            "location": "https://logs.example/",
            "status": "Accepted",
            "filename": "securitylog-8.log",
        }
    ]
    assert of_type(events_16, "LogStatusChanged") == [{"status": "Uploading", "request_id": 8}]
    assert of_type(events_16, "SecurityEventNotified") == [
        {"kind": "FirmwareUpdated", "timestamp": "2026-11-27T10:05:00Z", "tech_info": "v2"}
    ]
    assert of_type(events_16, "CertificateRequested") == [{"status": "Rejected"}]
    assert of_type(events_201, "CertificateRequested") == [
        {"status": "Accepted", "certificate_type": "ChargingStationCertificate"}
    ]
    assert of_type(events_201, "CertificateDelivered") == [{"status": "Accepted"}]
