"""SignCertificate end to end through ``chargeward serve``: a station at profile 2 asks for a certificate,
the CA from ``[server] ca_cert``/``ca_key`` signs it, CertificateSigned delivers it, and the station then
connects with it alone (profile 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.station_passwords import hash_password
from tests.integration.peer import peer_station
from tests.integration.serving import serving
from tests.security.conftest import Pki
from tests.security.test_station_auth import ocpp_port

pytestmark = pytest.mark.slow


def request(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


async def test_a_station_gets_a_certificate_and_connects_with_it(tmp_path: Path, pki: Pki) -> None:
    ca_key = tmp_path / "station-ca.key"
    pki.station_ca.private_key_pem.write_to_path(str(ca_key))
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[server]
tls_cert = "{pki.server_cert}"
tls_key = "{pki.server_key}"
client_ca = "{pki.station_ca_file}"
ca_cert = "{pki.station_ca_file}"
ca_key = "{ca_key}"

[fleet]
security_profile = 2

[stations."CP-S"]
password_hash = "{hash_password("cp-s-password-123456")}"
"""
    )
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        url = f"wss://127.0.0.1:{ocpp_port(served)}/ocpp"
        env = {"PEER_CA": str(pki.server_ca_file), "PEER_PASSWORD": "cp-s-password-123456"}
        key, csr = request("CP-S")
        async with peer_station(url, "CP-S", env=env) as station:
            assert (await station.call("SignCertificate", csr=request("CP-OTHER")[1]))["status"] == "Rejected"
            assert (await station.call("SignCertificate", csr="not a request"))["status"] == "Rejected"
            assert (await station.call("SignCertificate", csr=csr))["status"] == "Accepted"
            signed = await station.next_received()
            # The station's other security messages are answered (and kept in the frame log).
            event = {
                "type": "InvalidCentralSystemCertificate",
                "timestamp": "2026-11-27T09:00:00Z",
                "tech_info": "t",
            }
            assert await station.call("SecurityEventNotification", **event) == {}
            assert await station.call("LogStatusNotification", status="Uploaded", request_id=1) == {}
        assert signed["received"] == "CertificateSigned"
        chain = signed["payload"]["certificate_chain"]
        certificate = x509.load_pem_x509_certificates(chain.encode())[0]
        assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-S"
        ca = x509.load_pem_x509_certificate(pki.station_ca_file.read_bytes())
        certificate.verify_directly_issued_by(ca)
        assert certificate.public_key() == key.public_key()

        own = tmp_path / "cp-s.pem"
        own.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            + chain.encode()
        )
        async with peer_station(
            url, "CP-S", env={"PEER_CA": str(pki.server_ca_file), "PEER_CERT": str(own)}
        ) as cp:
            assert "current_time" in await cp.call("Heartbeat")
        assert await served.stop() == 0
