"""What the schemas cannot check in the certificate commands: that a certificate is one.

InstallCertificate's ``certificate`` must be one PEM X.509 certificate and CertificateSigned's
``certificateChain`` one or more, parsed with ``cryptography``; anything else is refused (422)
before it reaches a station, which could only answer Rejected or, worse, keep a broken trust anchor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography import x509


def certificate_problem(action: str, payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(path, reason) when ``payload`` of ``action`` carries something that is not a certificate."""
    if action == "InstallCertificate":
        path, text, many = "certificate", payload.get("certificate"), False
    elif action == "CertificateSigned":
        path, text, many = "certificateChain", payload.get("certificateChain"), True
    else:
        return None
    if not isinstance(text, str):
        return None  # the schema check says what is wrong
    try:
        found = x509.load_pem_x509_certificates(text.encode())
    except ValueError as error:
        return path, f"not a PEM X.509 certificate: {error}"
    if not many and len(found) != 1:
        return path, f"one PEM certificate expected, found {len(found)}"
    return None
