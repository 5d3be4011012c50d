"""``[server] client_id_field``: which field of a profile 3 station's certificate must be its id.

Certificates are made with ``cryptography`` (a subject with a common name, a serialNumber, an OU
and a UID, and DNS and URI subjectAltNames), issued by the stations' CA from ``trustme``, and read
the way the server reads them (``getpeercert()``'s shape), then used by the ``ocpp`` package's
ChargePoint against ``chargeward serve``.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.station_gate import CLIENT_ID_FIELDS, certificate_ids, certificate_names
from tests.integration.peer import peer_station
from tests.integration.serving import serving
from tests.security.conftest import Pki, upgrade
from tests.security.test_station_auth import ocpp_port
from tests.security.test_station_gate import config_error

SUBJECT = {
    NameOID.COMMON_NAME: "CN-NAME",
    NameOID.SERIAL_NUMBER: "CP-SN-1",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "CP-OU-1",
    NameOID.USER_ID: "CP-UID-1",
}


def client_cert(
    pki: Pki, path: Path, subject: dict[x509.ObjectIdentifier, str], sans: list[x509.GeneralName]
) -> Path:
    """A client certificate (key and certificate in one PEM file) issued by the stations' CA."""
    ca_cert = x509.load_pem_x509_certificate(pki.station_ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(pki.station_ca.private_key_pem.bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(oid, value) for oid, value in subject.items()]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    certificate = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + certificate.public_bytes(serialization.Encoding.PEM)
    )
    return path


def test_each_field_names_the_station_it_holds(tmp_path: Path, pki: Pki) -> None:
    path = client_cert(
        pki,
        tmp_path / "c.pem",
        SUBJECT,
        [x509.DNSName("cp-dns-1"), x509.DNSName("cp-dns-2"), x509.UniformResourceIdentifier("urn:cp:uri-1")],
    )
    decoded = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]  # getpeercert()'s shape
    expected = {
        "CN": ["CN-NAME"],
        "serialNumber": ["CP-SN-1"],
        "OU": ["CP-OU-1"],
        "UID": ["CP-UID-1"],
        "SAN:DNS": ["cp-dns-1", "cp-dns-2"],
        "SAN:URI": ["urn:cp:uri-1"],
    }
    assert set(expected) == set(CLIENT_ID_FIELDS)
    for field, values in expected.items():
        assert certificate_ids(decoded, field) == values
        for value in values:
            assert certificate_names(decoded, field, value) is None, (field, value)
        assert certificate_names(decoded, field, "CP-OTHER") is not None
    # A subject attribute names one station only: a certificate with two common names names none.
    two = client_cert(pki, tmp_path / "two.pem", {NameOID.COMMON_NAME: "A"}, [])
    twice = ssl._ssl._test_decode_cert(str(two))  # type: ignore[attr-defined]
    twice["subject"] = (*twice["subject"], (("commonName", "B"),))
    assert certificate_names(twice, "CN", "A") is not None


def test_config_checks_the_field(tmp_path: Path, pki: Pki) -> None:
    tls = f'[server]\ntls_cert = "{pki.server_cert}"\ntls_key = "{pki.server_key}"\n'
    assert "server.client_id_field: must be one of CN, serialNumber" in config_error(
        tmp_path, tls + f'client_ca = "{pki.station_ca_file}"\nclient_id_field = "subject"'
    )
    assert "server.client_id_field: needs client_ca too" in config_error(
        tmp_path, tls + 'client_id_field = "CN"'
    )


@pytest.mark.slow
async def test_a_station_is_named_by_its_serial_number(tmp_path: Path, pki: Pki) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[server]
tls_cert = "{pki.server_cert}"
tls_key = "{pki.server_key}"
client_ca = "{pki.station_ca_file}"
client_id_field = "serialNumber"

[fleet]
security_profile = 3
"""
    )
    own = client_cert(pki, tmp_path / "own.pem", SUBJECT, [])
    # Its common name is the station id, but its serialNumber is not: refused.
    impostor = client_cert(
        pki, tmp_path / "impostor.pem", {NameOID.COMMON_NAME: "CP-SN-1", NameOID.SERIAL_NUMBER: "X"}, []
    )
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        port = ocpp_port(served)
        env = {"PEER_CA": str(pki.server_ca_file), "PEER_CERT": str(own)}
        async with peer_station(f"wss://127.0.0.1:{port}/ocpp", "CP-SN-1", env=env) as station:
            assert "current_time" in await station.call("Heartbeat")
        refused = await upgrade(port, "CP-SN-1", context=pki.client_context(impostor))
        assert refused.status == 401
        assert (await upgrade(port, "CN-NAME", context=pki.client_context(own))).status == 401
        assert await served.stop() == 0
