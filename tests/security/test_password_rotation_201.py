"""Password rotation for OCPP 2.0.1 stations end to end, through ``chargeward serve`` with a TOML config
at security profile 2 (wss): SetVariables SecurityCtrlr.BasicAuthPassword to the ``ocpp`` package's
v201 ChargePoint, the new password valid only once the station answered Accepted, the station
reconnecting with it while the old one is refused, and only hashes in the log."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from actors.events import events_of
from actors.events.security import PasswordAccepted, PasswordOffered, PasswordRefused
from adapters.station_passwords import hash_password, verify_password
from adapters.stores import open_store
from tests.integration.peer import peer_station
from tests.integration.serving import serving
from tests.security.conftest import Pki, upgrade
from tests.security.test_station_auth import ocpp_port

pytestmark = pytest.mark.slow

OLD_A = "old-password-of-cp-a-0123"
OLD_B = "old-password-of-cp-b-0123"
BOOT = {"charging_station": {"model": "M", "vendor_name": "V"}, "reason": "PowerUp"}


async def test_a_201_station_takes_a_new_password_and_reconnects_with_it(tmp_path: Path, pki: Pki) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[server]
tls_cert = "{pki.server_cert}"
tls_key = "{pki.server_key}"

[fleet]
security_profile = 2

[stations."CP-A"]
password_hash = "{hash_password(OLD_A)}"

[stations."CP-B"]
password_hash = "{hash_password(OLD_B)}"
"""
    )
    data = tmp_path / "data"
    args = ("--data-dir", str(data), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    tls = pki.client_context()
    async with serving(*args) as served:
        port = ocpp_port(served)
        url = f"wss://127.0.0.1:{port}/ocpp"
        ca = str(pki.server_ca_file)
        async with (
            peer_station(url, "CP-A", "2.0.1", env={"PEER_CA": ca, "PEER_PASSWORD": OLD_A}) as cp_a,
            peer_station(
                url,
                "CP-B",
                "2.0.1",
                env={"PEER_CA": ca, "PEER_PASSWORD": OLD_B, "PEER_AUTHORIZATION_KEY": "Rejected"},
            ) as cp_b,
            httpx.AsyncClient(base_url=served.api_url, timeout=30) as api,
        ):
            assert (await cp_a.call("BootNotification", **BOOT))["status"] == "Accepted"
            assert (await cp_b.call("BootNotification", **BOOT))["status"] == "Accepted"

            rotated = await api.post("/api/stations/CP-A/password")
            assert rotated.status_code == 200, rotated.text
            assert rotated.json() == {"station_id": "CP-A", "status": "Accepted"}
            sent = await cp_a.next_received()
            assert sent["received"] == "SetVariables"
            (item,) = sent["payload"]["set_variable_data"]
            assert item["component"]["name"] == "SecurityCtrlr"
            assert item["variable"]["name"] == "BasicAuthPassword"
            new_a = item["attribute_value"]
            assert 16 <= len(new_a) <= 40 and new_a != OLD_A

            # The station reconnects with the password it accepted; the old one is refused from now on.
            await cp_a.reconnect()
            assert "current_time" in await cp_a.call("Heartbeat")
            assert (await upgrade(port, "CP-A", password=OLD_A, context=tls)).status == 401

            # A station that rejects the new password keeps its old one; the offered one is refused.
            refused = await api.post("/api/stations/CP-B/password")
            assert refused.json() == {"station_id": "CP-B", "status": "Rejected"}
            new_b = (await cp_b.next_received())["payload"]["set_variable_data"][0]["attribute_value"]
            assert (await upgrade(port, "CP-B", password=new_b, context=tls)).status == 401
            await cp_b.reconnect()  # with its old password
            assert "current_time" in await cp_b.call("Heartbeat")

            # The password cannot go through the generic command route (it would be logged as sent).
            generic = await api.post(
                "/api/stations/CP-A/commands/SetVariables",
                json={
                    "setVariableData": [
                        {
                            "component": {"name": "SecurityCtrlr"},
                            "variable": {"name": "BasicAuthPassword"},
                            "attributeValue": "x" * 20,
                        }
                    ]
                },
            )
            assert generic.status_code == 422, generic.text
        assert await served.stop() == 0

    async with open_store(f"sqlite:///{data / 'events.db'}") as store:
        records = await store.read_all(0, limit=1_000_000)
    stored = b"".join(repr(record).encode() for record in records)
    for secret in (new_a, new_b, OLD_A, OLD_B):
        assert secret.encode() not in stored, "only hashes are stored"
    credentials = {
        stream: [e for r in records if r.stream == stream for e in events_of(r)]
        for stream in ("credentials/CP-A", "credentials/CP-B")
    }
    offered_a, accepted_a = credentials["credentials/CP-A"]
    assert isinstance(offered_a, PasswordOffered) and isinstance(accepted_a, PasswordAccepted)
    assert accepted_a.password_hash == offered_a.password_hash
    assert verify_password(new_a, accepted_a.password_hash)
    offered_b, refused_b = credentials["credentials/CP-B"]
    assert isinstance(refused_b, PasswordRefused) and refused_b.outcome == "Rejected"
    assert verify_password(new_b, offered_b.password_hash)
