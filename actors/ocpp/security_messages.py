"""The domain events of the certificate messages and GetLog, the same for OCPP 1.6 (security
extension) and 2.0.1.

2.0.1 took these messages from the 1.6 security extension, with small differences this module
absorbs: GetInstalledCertificateIds asks for one ``certificateType`` in 1.6 and a list (or none: all)
in 2.0.1, and answers ``certificateHashData`` in 1.6 and ``certificateHashDataChain`` (with a type
and child certificates per entry) in 2.0.1; SignCertificate and CertificateSigned name a
``certificateType`` in 2.0.1 only; GetLog is the same in both. Both dialects' decisions call
:func:`command_events` and :func:`station_events`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.events import Event
from actors.events.certificates import (
    CertificateDeleted,
    CertificateDelivered,
    CertificateInstalled,
    CertificateRequested,
    InstalledCertificatesReported,
    LogRequested,
)

COMMANDS = frozenset(
    {"CertificateSigned", "InstallCertificate", "DeleteCertificate", "GetInstalledCertificateIds", "GetLog"}
)


def hash_data(data: Mapping[str, Any], certificate_type: str | None = None) -> dict[str, Any]:
    """A certificate's hash data in the events' snake_case (``certificate_type`` when known)."""
    out: dict[str, Any] = {
        "hash_algorithm": data.get("hashAlgorithm"),
        "issuer_name_hash": data.get("issuerNameHash"),
        "issuer_key_hash": data.get("issuerKeyHash"),
        "serial_number": data.get("serialNumber"),
    }
    if certificate_type is not None:
        out["certificate_type"] = certificate_type
    return out


def _installed(request: Mapping[str, Any], response: Mapping[str, Any]) -> InstalledCertificatesReported:
    asked = request.get("certificateType")
    types = [asked] if isinstance(asked, str) else list(asked or [])
    certificates: list[dict[str, Any]] = []
    if "certificateHashDataChain" in response:  # 2.0.1
        for chain in response["certificateHashDataChain"]:
            kind = chain.get("certificateType")
            certificates.append(hash_data(chain["certificateHashData"], kind))
            for child in chain.get("childCertificateHashData") or ():
                entry = hash_data(child, kind)
                entry["child"] = True
                certificates.append(entry)
    else:  # 1.6: the type asked for is the type of every entry
        kind = types[0] if len(types) == 1 else None
        certificates = [hash_data(entry, kind) for entry in response.get("certificateHashData") or ()]
    return InstalledCertificatesReported(
        certificate_types=types, status=str(response.get("status")), certificates=certificates
    )


def command_events(action: str, request: Mapping[str, Any], response: Mapping[str, Any]) -> list[Event]:
    """The event an answered certificate command or GetLog decides (every answer, refusals included)."""
    status = str(response.get("status"))
    if action == "InstallCertificate":
        return [CertificateInstalled(certificate_type=request["certificateType"], status=status)]
    if action == "DeleteCertificate":
        return [CertificateDeleted(certificate=hash_data(request["certificateHashData"]), status=status)]
    if action == "GetInstalledCertificateIds":
        return [_installed(request, response)]
    if action == "CertificateSigned":
        return [CertificateDelivered(status=status, certificate_type=request.get("certificateType"))]
    if action == "GetLog":
        return [
            LogRequested(
                request_id=request["requestId"],
                log_type=request["logType"],
                location=request["log"]["remoteLocation"],
                status=status,
                filename=response.get("filename"),
            )
        ]
    return []


def station_events(action: str, request: Mapping[str, Any], response: Mapping[str, Any]) -> list[Event]:
    """The event a station's certificate request decides (SignCertificate and its answer)."""
    if action == "SignCertificate":
        return [
            CertificateRequested(
                status=str(response.get("status")), certificate_type=request.get("certificateType")
            )
        ]
    return []
