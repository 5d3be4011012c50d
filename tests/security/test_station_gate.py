"""The pieces of the station gate on their own: passwords, Basic headers, the failure limiter, config."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events.security import PasswordAccepted, PasswordOffered
from actors.policy import FleetPolicy
from adapters.config import ConfigError, load_config
from adapters.station_gate import (
    FAILURE_WINDOW,
    FailureLimiter,
    Presented,
    Refused,
    SecurityOptions,
    StationCredentials,
    StationGate,
    basic_credentials,
    remote_host,
)
from adapters.station_passwords import check_stored, hash_password, new_password, verify_password
from adapters.stores import open_store
from core.clock import TrioClock
from tests.security.conftest import Pki

ROOT = Path(__file__).resolve().parents[2]


def test_a_password_verifies_only_against_its_own_hash() -> None:
    password = new_password()
    assert len(password) == 40 and int(password, 16) >= 0
    stored = check_stored(hash_password(password))
    assert verify_password(password, stored)
    assert not verify_password(password + "x", stored)
    assert not verify_password(password, hash_password(password.upper() + "0"))
    assert hash_password(password) != stored, "salted: the same password never hashes the same twice"
    assert not verify_password(password, "sha256:" + "0" * 64), "a malformed stored hash accepts nothing"


@settings(max_examples=50)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30), st.text(max_size=30))
def test_basic_credentials_round_trip(user: str, password: str) -> None:
    encoded = base64.b64encode(f"{user.replace(':', '')}:{password}".encode()).decode()
    assert basic_credentials(f"Basic {encoded}") == (user.replace(":", ""), password)


@pytest.mark.parametrize(
    "header", ["Bearer abc", "Basic", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()]
)
def test_a_malformed_basic_header_is_a_value_error(header: str) -> None:
    with pytest.raises(ValueError):
        basic_credentials(header)


def test_the_limiter_blocks_one_address_for_a_while_and_forgets_old_failures() -> None:
    limiter = FailureLimiter(max_failures=2, block_seconds=100)
    assert remote_host("10.0.0.1:5555") == "10.0.0.1" and remote_host("[::1]:80") == "::1"
    assert not limiter.fail("a", 0) and not limiter.fail("a", 1)
    assert not limiter.fail("a", FAILURE_WINDOW + 0.5), "the first failure left the window"
    assert limiter.fail("a", FAILURE_WINDOW + 0.9)
    assert limiter.blocked_for("a", FAILURE_WINDOW + 0.9) == 100
    assert limiter.blocked_for("b", FAILURE_WINDOW + 1) is None, "other addresses are not affected"
    assert limiter.blocked_for("a", FAILURE_WINDOW + 101) is None, "the block ends"


def config_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return str(error.value)


def test_config_errors_name_the_key(tmp_path: Path, pki: Pki) -> None:
    good_hash = hash_password("x" * 20)
    assert "fleet.security_profile: must be 0, 1, 2 or 3" in config_error(
        tmp_path, "[fleet]\nsecurity_profile = 4"
    )
    assert "fleet.security_profile: profile 2 needs TLS" in config_error(
        tmp_path, "[fleet]\nsecurity_profile = 2"
    )
    tls = f'[server]\ntls_cert = "{pki.server_cert}"\ntls_key = "{pki.server_key}"\n'
    assert "stations.A.security_profile: profile 3 needs client certificates" in config_error(
        tmp_path, tls + '[stations."A"]\nsecurity_profile = 3'
    )
    assert "stations.A.password_hash: is required at security profile 1" in config_error(
        tmp_path, '[stations."A"]\nsecurity_profile = 1'
    )
    assert "stations.A.password_hash: must be a scrypt hash" in config_error(
        tmp_path, '[stations."A"]\npassword_hash = "hunter2"'
    )
    assert "server.tls_key: is required with tls_cert" in config_error(
        tmp_path, f'[server]\ntls_cert = "{pki.server_cert}"'
    )
    assert "server.client_ca: needs tls_cert too" in config_error(tmp_path, '[server]\nclient_ca = "x.pem"')
    assert "server.tls_key: cannot read" in config_error(
        tmp_path, f'[server]\ntls_cert = "{pki.server_cert}"\ntls_key = "{tmp_path}/missing.key"'
    )
    assert "server.tls_cert: cannot load" in config_error(
        tmp_path, f'[server]\ntls_cert = "{pki.server_key}"\ntls_key = "{pki.server_key}"'
    )
    assert "vendors.V.security_profile: unknown key" in config_error(
        tmp_path, "[vendors.V]\nsecurity_profile = 1"
    )
    path = tmp_path / "ok.toml"
    path.write_text(f'{tls}[fleet]\nsecurity_profile = 2\n[stations."A"]\npassword_hash = "{good_hash}"')
    security = load_config(path).server.security
    assert security.required("A") == 2 and security.password_hash("A") == good_hash


def test_station_password_prints_a_password_and_its_config_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "station", "password", "CP-9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    password = out.split()[1]
    config = out.split("config:\n", 1)[1]
    path = tmp_path / "c.toml"
    path.write_text(config)
    assert verify_password(password, load_config(path).server.security.password_hash("CP-9") or "")
    bad = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "station", "password", "a/b"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "chargeward: station password:" in bad.stderr


async def test_a_rotation_recorded_by_another_node_counts_at_the_next_connect() -> None:
    """Two gates on one store, as two nodes on one PostgreSQL: the one that did not rotate the
    password, and had already read the station's credentials, applies the rotation at once."""
    old, new = "old-secret", "new-secret"
    options = SecurityOptions(
        profile=1, stations={"CP-1": StationCredentials(1, hash_password(old, log2_n=4))}
    )
    policy = FleetPolicy()

    def presented(password: str) -> Presented:
        token = base64.b64encode(f"CP-1:{password}".encode()).decode()
        return Presented("127.0.0.1:5000", "CP-1", False, f"Basic {token}", None)

    async with open_store("memory://") as store:
        node_a = StationGate(options, policy, store, TrioClock())
        node_b = StationGate(options, policy, store, TrioClock())
        assert await node_b.admit(presented(old)) == 1  # B has read CP-1's credentials
        rotated = hash_password(new, log2_n=4)
        await node_a.record_password("CP-1", PasswordOffered(password_hash=rotated))
        await node_a.record_password("CP-1", PasswordAccepted(password_hash=rotated))
        assert await node_b.admit(presented(new)) == 1
        with pytest.raises(Refused) as refused:
            await node_b.admit(presented(old))
        assert refused.value.reason == "bad_password"
