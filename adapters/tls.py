"""The server side of TLS for the OCPP port and the operator API, built from files named in the config.

TLS 1.2 or newer. For TLS 1.2 only the cipher suites the OCPP security whitepaper (1.6 edition 3,
and 2.0.1 part 2 A00.FR.318-319) lists: ECDHE-ECDSA with AES-GCM for ECDSA keys, and plain RSA with
AES-GCM for RSA keys, which the whitepaper keeps for stations that have nothing better; TLS 1.3
negotiates its own (all AEAD) suites. With ``client_ca`` a client certificate is verified against it
when the client presents one (security profile 3); a station at profile 2 presents none, so the
certificate is optional at the TLS layer and required, per station, by ``adapters.station_gate``.
"""

from __future__ import annotations

import ssl
from pathlib import Path

WHITEPAPER_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    )
)


class TlsFileError(ValueError):
    """A certificate, key or CA file cannot be used; ``setting`` names the option that named it."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(reason)
        self.setting = setting
        self.reason = reason


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A server-side context for ``cert`` and ``key``; raises :class:`TlsFileError`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(WHITEPAPER_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    for setting, path in (("tls_cert", cert), ("tls_key", key), ("client_ca", client_ca)):
        if path is not None and not path.is_file():
            raise TlsFileError(setting, f"cannot read {path}: no such file")
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise TlsFileError("tls_cert", f"cannot load {cert} with {key}: {error}") from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as error:
            raise TlsFileError("client_ca", f"cannot load {client_ca}: {error}") from None
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
