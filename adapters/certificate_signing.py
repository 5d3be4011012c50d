"""SignCertificate / CertificateSigned (OCPP 1.6 security extension): the server's CA signs stations' CSRs.

With ``[server] ca_cert`` and ``ca_key`` (the CA that issues station certificates, normally the one
``client_ca`` trusts, so a signed certificate is good for security profile 3), a station that sends
SignCertificate with a PEM certificate signing request is answered ``Accepted`` when the request is
well formed, self-signed correctly and names the station (subject common name = station id), and
``Rejected`` otherwise. The signing and the CertificateSigned call happen afterwards, in the signer's
own task, so the station actor never waits on them and the station gets its CALLRESULT first.

Everything is in the log: the SignCertificate frame and its answer, the CertificateSigned command
with the chain (public data), and the station's reply, through the ordinary frame and command path.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from actors.commands import Command, CommandError
from actors.fleet import Fleet
from actors.handlers import HandlerResult, IncomingCall

logger = logging.getLogger("chargeward.certificates")

QUEUE = 64  # signing requests waiting; more are rejected (the station retries, per the whitepaper)


class CaFileError(ValueError):
    """The CA certificate or key cannot be used; ``setting`` names the option."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(reason)
        self.setting = setting
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SigningCa:
    """The CA that signs station certificates, loaded from the config's files."""

    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes
    days: int = 365

    @classmethod
    def load(cls, cert: Path, key: Path, days: int = 365) -> SigningCa:
        try:
            certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        except (OSError, ValueError) as error:
            raise CaFileError("ca_cert", f"cannot load {cert}: {error}") from None
        try:
            private = serialization.load_pem_private_key(key.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as error:
            raise CaFileError("ca_key", f"cannot load {key}: {error}") from None
        if private.public_key() != certificate.public_key():
            raise CaFileError("ca_key", f"{key} is not the key of {cert}")
        return cls(certificate, private, days)  # type: ignore[arg-type]


def check_csr(pem: str, station_id: str) -> x509.CertificateSigningRequest:
    """The parsed request; ValueError saying why it cannot be signed for ``station_id``."""
    csr = x509.load_pem_x509_csr(pem.encode())
    if not csr.is_signature_valid:
        raise ValueError("the request's signature does not match its key")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != station_id:
        raise ValueError(f"the request's common name is {[n.value for n in names]}, not {station_id!r}")
    return csr


def sign(ca: SigningCa, csr: x509.CertificateSigningRequest, now: datetime.datetime) -> str:
    """A client certificate for the request's key and subject, signed by ``ca``; the chain as PEM."""
    certificate = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=ca.days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    pems = (
        certificate.public_bytes(serialization.Encoding.PEM),
        ca.certificate.public_bytes(serialization.Encoding.PEM),
    )
    return b"".join(pems).decode()


class CertificateSigner:
    """The SignCertificate handler and the task that signs and sends CertificateSigned."""

    def __init__(self, ca: SigningCa, fleet: Fleet) -> None:
        self.ca = ca
        self.fleet = fleet
        self._send, self._receive = trio.open_memory_channel[tuple[str, x509.CertificateSigningRequest]](
            QUEUE
        )

    def on_sign_certificate(self, call: IncomingCall) -> HandlerResult:
        """Answer SignCertificate: Accepted (and queue the signing) or Rejected."""
        try:
            csr = check_csr(str(call.payload.get("csr", "")), call.station_id)
            self._send.send_nowait((call.station_id, csr))
        except (ValueError, trio.WouldBlock) as error:
            reason = "too many requests queued" if isinstance(error, trio.WouldBlock) else str(error)
            logger.warning("SignCertificate from %s rejected: %s", call.station_id, reason)
            return {"status": "Rejected"}
        return {"status": "Accepted"}

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        remove = self.fleet.on("SignCertificate", self.on_sign_certificate)
        try:
            task_status.started()
            async for station_id, csr in self._receive:
                now = datetime.datetime.now(datetime.UTC)
                chain = await trio.to_thread.run_sync(sign, self.ca, csr, now)
                try:
                    reply = await self.fleet.call(
                        station_id, Command("CertificateSigned", {"certificateChain": chain})
                    )
                    logger.info("CertificateSigned to %s: %s", station_id, reply.get("status"))
                except (CommandError, trio.TooSlowError) as error:
                    logger.warning("CertificateSigned to %s failed: %r", station_id, error)
        finally:
            remove()
