"""``chargeward serve`` runs the API next to the OCPP server; /metrics is served on the API port."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from adapters.api import ApiOptions, hash_token
from adapters.config import parse_config
from adapters.metrics import MetricsOptions
from tests.api.conftest import Api
from tests.integration.conftest import url_of
from tests.integration.peer import peer_station
from tests.integration.serving import serving

ROOT = Path(__file__).resolve().parents[2]


async def test_metrics_on_the_api_port_see_commands_from_the_start(api: Api) -> None:
    async with peer_station(url_of(api.csms), "MET-1") as peer:
        await peer.call("Heartbeat")
        assert (await api.client.post("/api/stations/MET-1/commands/ClearCache", json={})).status_code == 200
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    count = re.search(
        r'^chargeward_ocpp_latency_seconds_count\{action="ClearCache",direction="csms"\} (\S+)$',
        response.text,
        re.MULTILINE,
    )
    assert count is not None and float(count.group(1)) == 1.0, response.text[:2000]


def test_metrics_table_in_the_config_file() -> None:
    config = parse_config({"metrics": {"per_connector": False}, "api": {}}, "c.toml")
    assert config.metrics == MetricsOptions(per_connector=False) and config.api == ApiOptions()


async def test_serve_prints_the_api_address_and_stops_on_sigint(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[api]\ntokens = ["{hash_token("serve-token")}"]\n')
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        async with httpx.AsyncClient(base_url=served.api_url) as client:
            assert (await client.get("/api/stations")).status_code == 401
            authorized = {"Authorization": "Bearer serve-token"}
            assert (await client.get("/api/stations", headers=authorized)).status_code == 200
            assert "chargeward_" in (await client.get("/metrics", headers=authorized)).text
        assert await served.stop() == 0


async def test_serve_negotiates_the_subprotocols_the_config_file_prefers(tmp_path: Path) -> None:
    """``[server] subprotocols`` through the real executable: its order is the server's preference,
    and a version left out is refused at the handshake."""
    config = tmp_path / "c.toml"
    config.write_text('[server]\nsubprotocols = ["ocpp1.6"]\n')
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        found = re.search(r"OCPP on ws://127\.0\.0\.1:(\d+)/", served.banner)
        assert found is not None, served.banner
        url = f"ws://127.0.0.1:{found.group(1)}/ocpp/SUB-1"
        async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp2.0.1", "ocpp1.6"]) as ws:
            assert ws.subprotocol == "ocpp1.6"
        with pytest.raises(trio_websocket.HandshakeError):
            async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp2.0.1"]):
                pass
        assert await served.stop() == 0
    config.write_text('[server]\nsubprotocols = ["ocpp1.7"]\n')
    result = await trio.run_process(
        [sys.executable, "-m", "adapters.cli", "serve", *args], cwd=ROOT, capture_stderr=True, check=False
    )
    error = result.stderr.decode()
    assert result.returncode != 0 and "server.subprotocols" in error and "ocpp1.7" in error


async def test_by_default_a_station_offering_both_versions_gets_201(api: Api) -> None:
    url = f"{url_of(api.csms)}/BOTH-1"
    async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6", "ocpp2.0.1"]) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
