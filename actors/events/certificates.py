"""Events of a station's stream (``station/<id>``) from its security messages: certificates, firmware
updates and log uploads (the OCPP 1.6 security extension, and 2.0.1 where it has the same messages).

Version-neutral like the rest of :mod:`actors.events`: a certificate is identified by its hash data
(``certificate_type``, ``hash_algorithm``, ``issuer_name_hash``, ``issuer_key_hash``,
``serial_number``), the same in both versions; ``status`` is what the station answered, so a
refused install is recorded as plainly as an accepted one. The certificates and firmware images
themselves stay in the frame log (:class:`~actors.events.station.FrameSent`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from actors.events.registry import OMITTED_WHEN_NONE, Event, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequested(Event):
    """The station asked for a certificate (SignCertificate) and was answered ``status``."""

    TYPE: ClassVar[str] = "CertificateRequested"
    status: str
    certificate_type: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateDelivered(Event):
    """A signed certificate was sent (CertificateSigned); ``status``: whether the station took it."""

    TYPE: ClassVar[str] = "CertificateDelivered"
    status: str
    certificate_type: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateInstalled(Event):
    """An InstallCertificate was answered: ``status`` Accepted, Rejected or Failed."""

    TYPE: ClassVar[str] = "CertificateInstalled"
    certificate_type: str
    status: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateDeleted(Event):
    """A DeleteCertificate was answered: ``status`` Accepted, Failed or NotFound for ``certificate``
    (its hash data)."""

    TYPE: ClassVar[str] = "CertificateDeleted"
    certificate: dict[str, Any]
    status: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class InstalledCertificatesReported(Event):
    """A GetInstalledCertificateIds was answered: the certificates of the ``certificate_types`` asked
    (all when empty) the station holds, as hash data; ``status`` Accepted or NotFound."""

    TYPE: ClassVar[str] = "InstalledCertificatesReported"
    certificate_types: list[str]
    status: str
    certificates: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class FirmwareUpdateRequested(Event):
    """A firmware update was sent (1.6 UpdateFirmware or SignedUpdateFirmware): from ``location``,
    not before ``retrieve_date``; ``signed`` when it came with a signing certificate and signature;
    ``status`` the station's answer (None where the message has none: 1.6 UpdateFirmware)."""

    TYPE: ClassVar[str] = "FirmwareUpdateRequested"
    location: str
    retrieve_date: str
    signed: bool
    request_id: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    status: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class LogRequested(Event):
    """A GetLog was answered: the ``log_type`` (DiagnosticsLog, SecurityLog) to upload to
    ``location`` under ``request_id``; ``status`` Accepted, Rejected or AcceptedCanceled and the
    ``filename`` the station will upload. Its progress is in LogStatusChanged."""

    TYPE: ClassVar[str] = "LogRequested"
    request_id: int
    log_type: str
    location: str
    status: str
    filename: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
