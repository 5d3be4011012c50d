"""Security profiles through the real ``chargeward serve`` and a TOML config: TLS, passwords, client
certificates, unknown ids, takeover and downgrade attempts, and the per-address failure limit.

Stations are the ``ocpp`` package's asyncio ChargePoint over ``websockets`` (tests/peers); the refused
attempts are raw upgrade requests over Python's ``ssl`` (tests/security/conftest.py), some from a
second loopback address so that one address's block can be seen not to touch the other.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from actors.events import events_of
from actors.events.security import ConnectionRefused
from adapters.station_passwords import hash_password
from adapters.stores import open_store
from tests.integration.peer import PeerRefused, peer_station
from tests.integration.serving import Served, serving
from tests.security.conftest import Pki, upgrade

pytestmark = pytest.mark.slow

BOOT = {"charge_point_vendor": "V", "charge_point_model": "M"}


def ocpp_port(served: Served) -> int:
    found = re.search(r"OCPP on (wss?)://127\.0\.0\.1:(\d+)/", served.banner)
    assert found is not None, served.banner
    return int(found.group(2))


def metric(text: str, reason: str) -> float:
    found = re.search(
        rf'^chargeward_station_connections_refused_total\{{reason="{reason}"\}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


async def refusals(data_dir: Path) -> list[ConnectionRefused]:
    async with open_store(f"sqlite:///{data_dir / 'events.db'}") as store:
        records = await store.read_all(0, limit=100_000)
    return [
        event
        for record in records
        if record.stream.startswith("security/")
        for event in events_of(record)
        if isinstance(event, ConnectionRefused)
    ]


async def test_profiles_2_and_3_over_tls(tmp_path: Path, pki: Pki) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[server]
tls_cert = "{pki.server_cert}"
tls_key = "{pki.server_key}"
client_ca = "{pki.station_ca_file}"

[fleet]
security_profile = 2
unknown_stations = "Rejected"
auth_max_failures = 6
auth_block_seconds = 600

[stations."CP-2"]
password_hash = "{hash_password("right-password-2")}"

[stations."CP-3"]
security_profile = 3
"""
    )
    data = tmp_path / "data"
    args = ("--data-dir", str(data), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        port = ocpp_port(served)
        assert "OCPP on wss://" in served.banner
        url = f"wss://127.0.0.1:{port}/ocpp"
        tls = pki.client_context()
        attacker = "127.0.0.3"  # the refused attempts, so that they do not block the good stations' address
        peer_env = {"PEER_CA": str(pki.server_ca_file), "PEER_PASSWORD": "right-password-2"}
        async with peer_station(url, "CP-2", env=peer_env) as cp2:
            assert (await cp2.call("BootNotification", **BOOT))["status"] == "Accepted"
            # Takeover attempts while CP-2 is connected: a wrong password, none, another user.
            assert (await upgrade(port, "CP-2", password="guess", context=tls, source=attacker)).status == 401
            no_credentials = await upgrade(port, "CP-2", context=tls, source=attacker)
            assert no_credentials.status == 401 and "WWW-Authenticate: Basic" in no_credentials.head
            other_user = await upgrade(
                port, "CP-2", password="right-password-2", user="CP-3", context=tls, source=attacker
            )
            assert other_user.status == 401
            # A certificate that names another station is refused, even with the right password.
            cp3_cert = pki.client_cert("CP-3")
            mismatch = await upgrade(
                port,
                "CP-2",
                password="right-password-2",
                context=pki.client_context(cp3_cert),
                source=attacker,
            )
            assert mismatch.status == 401
            # CP-2 was never pushed off: it still talks on its first connection.
            assert "current_time" in await cp2.call("Heartbeat")

            # Profile 3: the certificate proves CP-3; Basic alone is a downgrade.
            async with peer_station(
                url, "CP-3", env={"PEER_CA": str(pki.server_ca_file), "PEER_CERT": str(cp3_cert)}
            ) as cp3:
                assert (await cp3.call("BootNotification", **BOOT))["status"] == "Accepted"
            assert (
                await upgrade(port, "CP-3", password="right-password-2", context=tls, source=attacker)
            ).status == 401
            # An id that is not configured is refused at the upgrade (unknown_stations = "Rejected").
            assert (await upgrade(port, "CP-X", password="x", context=tls, source=attacker)).status == 404

            # Brute force from 127.0.0.2: after 6 failures in a minute the address is blocked, the right
            # password included, while 127.0.0.1 still connects.
            statuses = [
                (await upgrade(port, "CP-2", password=f"guess-{i}", context=tls, source="127.0.0.2")).status
                for i in range(7)
            ]
            assert statuses == [401] * 7
            blocked = await upgrade(
                port, "CP-2", password="right-password-2", context=tls, source="127.0.0.2"
            )
            assert blocked.status == 429 and re.search(r"Retry-After: \d+", blocked.head), blocked.head
            # (this one replaces cp2's connection: the same id, proven at the same profile)
            assert (await upgrade(port, "CP-2", password="right-password-2", context=tls)).status == 101

        wrong = {"PEER_CA": str(pki.server_ca_file), "PEER_PASSWORD": "nope"}
        with pytest.RaisesGroup(
            pytest.RaisesExc(PeerRefused, check=lambda e: e.args[0] == 401), flatten_subgroups=True
        ):
            async with peer_station(url, "CP-2", env=wrong):
                pass

        async with httpx.AsyncClient(base_url=served.api_url) as client:
            metrics = (await client.get("/metrics")).text
            stations = (await client.get("/api/stations")).json()
        assert metric(metrics, "bad_password") == 1 + 7 + 1
        assert metric(metrics, "rate_limited") == 1
        assert metric(metrics, "unknown_station") == 1
        assert metric(metrics, "certificate_mismatch") == 1
        assert "CP-X" not in str(stations), "a refused id leaves no station behind"
        assert await served.stop() == 0

    events = await refusals(data)
    reasons = [(e.station_id, e.reason) for e in events]
    assert ("CP-2", "bad_password") in reasons and ("CP-2", "no_credentials") in reasons
    assert ("CP-2", "wrong_user") in reasons and ("CP-3", "no_certificate") in reasons
    assert ("CP-X", "unknown_station") in reasons
    assert "rate_limited" not in {e.reason for e in events}, "a blocked address does not fill the log"
    assert any(e.remote.startswith("127.0.0.2:") and "blocked" in e.detail for e in events)
    assert all("right-password" not in e.detail for e in events)


async def test_profile_1_and_a_lower_profile_cannot_replace_a_higher_one(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[stations."CP-1"]
security_profile = 1
password_hash = "{hash_password("pw-one-1234567890")}"

[stations."CP-0"]
password_hash = "{hash_password("pw-zero-1234567890")}"
"""
    )
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        port = ocpp_port(served)
        url = f"ws://127.0.0.1:{port}/ocpp"
        async with peer_station(url, "CP-1", env={"PEER_PASSWORD": "pw-one-1234567890"}) as cp1:
            assert (await cp1.call("BootNotification", **BOOT))["status"] == "Accepted"
            assert (await upgrade(port, "CP-1")).status == 401
            assert (await upgrade(port, "CP-1", password="pw-zero-1234567890")).status == 401
            assert "current_time" in await cp1.call("Heartbeat")
        # CP-0 is at profile 0: it may connect without a password, but once it is connected with its
        # password (profile 1), a connection without one cannot replace it.
        assert (await upgrade(port, "CP-0")).status == 101
        async with peer_station(url, "CP-0", env={"PEER_PASSWORD": "pw-zero-1234567890"}) as cp0:
            assert (await upgrade(port, "CP-0")).status == 409
            assert (await upgrade(port, "CP-0", password="wrong")).status == 401
            assert "current_time" in await cp0.call("Heartbeat")
        assert await served.stop() == 0
