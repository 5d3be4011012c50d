"""Bearer tokens on a running API: every route but the document and docs page needs one."""

from __future__ import annotations

from pathlib import Path

import httpx

from adapters.csms import open_csms
from tests.api.conftest import TOKEN, Api, api_config

GUARDED = ["/api/stations", "/api/stations/X", "/api/transactions", "/api/stations/X/events", "/metrics"]


async def test_requests_without_a_known_token_are_refused(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as anonymous:
        for path in GUARDED:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
                response = await anonymous.get(path, headers=headers)
                assert response.status_code == 401, (path, headers, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
                assert response.json()["error"] == "unauthorized"
        refused = await anonymous.post("/api/stations/X/commands/Reset", json={"type": "Soft"})
        assert refused.status_code == 401
        assert (await anonymous.get("/openapi.json")).status_code == 200
        assert "swagger" in (await anonymous.get("/docs")).text.lower()
    assert (await api.client.get("/api/stations")).json() == {"stations": [], "next_after": None}
    assert (await api.client.get("/api/stations/X")).status_code == 404, "past auth: the station is unknown"
    document = (await api.client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    responses = document["paths"]["/api/transactions"]["get"]["responses"]
    assert "401" in responses and "422" in responses


async def test_without_tokens_loopback_needs_none(tmp_path: Path) -> None:
    async with (
        open_csms(api_config(tmp_path, tokens=())) as csms,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}") as client,
    ):
        assert (await client.get("/api/stations")).status_code == 200
        document = (await client.get("/openapi.json")).json()
        assert "securitySchemes" not in document.get("components", {})
        assert "401" not in document["paths"]["/api/stations"]["get"]["responses"]
