"""The operator API fit for a public address, through the real ``chargeward serve`` and a TOML config:
HTTPS from ``[api] tls_cert``, token scopes, a /metrics-only token, per-token rate limits with 429 and
Retry-After, and /docs served from a Python package (no CDN)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from adapters.api import hash_token
from tests.integration.serving import serving
from tests.security.conftest import Pki

pytestmark = pytest.mark.slow

TOKENS = {name: f"{name}-token-0123456789" for name in ("admin", "reader", "commander", "scraper", "burst")}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


async def test_scopes_rate_limits_tls_and_offline_docs(tmp_path: Path, pki: Pki) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[api]
tokens = ["{hash_token(TOKENS["admin"])}"]
read_tokens = ["{hash_token(TOKENS["reader"])}", "{hash_token(TOKENS["burst"])}"]
command_tokens = ["{hash_token(TOKENS["commander"])}"]
metrics_tokens = ["{hash_token(TOKENS["scraper"])}"]
rate_limit = 0.01
rate_burst = 4
tls_cert = "{pki.server_cert}"
tls_key = "{pki.server_key}"
"""
    )
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served:
        found = re.search(r"API on (https://127\.0\.0\.1:\d+)", served.banner)
        assert found is not None, served.banner
        context = pki.client_context()
        async with httpx.AsyncClient(base_url=found.group(1), verify=context, timeout=20) as client:
            reset = "/api/stations/NOPE/commands/Reset"
            # read: reads and /metrics, no commands
            assert (await client.get("/api/stations", headers=bearer("reader"))).status_code == 200
            refused = await client.post(reset, json={"type": "Soft"}, headers=bearer("reader"))
            assert refused.status_code == 403 and refused.json()["error"] == "forbidden", refused.text
            assert "command" in refused.json()["message"]
            assert (await client.get("/metrics", headers=bearer("reader"))).status_code == 200
            # sites and charging needs: read with a read token, changed only with a command token
            assert (await client.get("/api/sites", headers=bearer("reader"))).status_code == 200
            limit = {"value": 10, "unit": "A"}
            grid = "/api/sites/NOPE/limits/grid_operator"
            put = await client.put(grid, json=limit, headers=bearer("reader"))
            assert put.status_code == 403, put.text
            put = await client.put(grid, json=limit, headers=bearer("commander"))
            assert put.status_code == 404, put.text
            # command: past the scope check (the station is unknown); not admin
            assert (
                await client.post(reset, json={"type": "Soft"}, headers=bearer("commander"))
            ).status_code == 404
            rotate = "/api/stations/NOPE/password"
            assert (await client.post(rotate, headers=bearer("commander"))).status_code == 403
            assert (await client.post(rotate, headers=bearer("admin"))).status_code == 404
            # metrics: /metrics only
            assert (await client.get("/metrics", headers=bearer("scraper"))).status_code == 200
            assert (await client.get("/api/stations", headers=bearer("scraper"))).status_code == 403
            assert (
                await client.get("/api/stations", headers={"Authorization": "Bearer nope"})
            ).status_code == 401

            # Per token: a burst of 4, then 429 with Retry-After; the other tokens are not affected.
            statuses = [
                (await client.get("/api/stations", headers=bearer("burst"))).status_code for _ in range(4)
            ]
            assert statuses == [200] * 4
            limited = await client.get("/api/stations", headers=bearer("burst"))
            assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
            assert int(limited.headers["retry-after"]) >= 1
            assert (await client.get("/api/stations", headers=bearer("admin"))).status_code == 200

            # /docs and its assets come from this server, not a CDN
            docs = await client.get("/docs")
            assert docs.status_code == 200 and "cdn" not in docs.text.lower()
            assets = re.findall(r"""(?:src|href)=["'](/docs/assets/[^"']+)""", docs.text)
            assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), (
                docs.text
            )
            for asset in assets:
                response = await client.get(asset)
                assert response.status_code == 200 and len(response.content) > 1000, asset
            redoc = await client.get("/redoc")
            assert redoc.status_code == 200 and "cdn" not in redoc.text.lower()
        with pytest.raises(httpx.TransportError):  # plain HTTP is not served
            async with httpx.AsyncClient(base_url=found.group(1).replace("https", "http")) as plain:
                await plain.get("/api/stations", headers=bearer("admin"))
        assert await served.stop() == 0
