"""Charging needs and site prices through the real ``chargeward serve`` with a ``[sites.<id>]`` table:
each change is an event in the log, read back after a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.integration.serving import serving

CONFIG = """
[api]

[sites.depot]
max_current = 32
stations = ["CP-1", "CP-2"]
"""

NEEDS = "/api/stations/CP-1/connectors/1/charging-needs"


def later(hours: float) -> str:
    return (
        (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


async def test_needs_and_prices_are_set_read_cleared_and_survive_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    departure = later(10)
    need = {"energy_wh": 20000, "departure": departure, "max_current": 16}
    curve = {
        "prices": [
            {"start": "2026-11-28T00:00:00Z", "price": 0.3},
            {"start": "2026-11-28T02:00:00+01:00", "price": 0.1},
        ],
        "currency": "EUR",
    }
    async with serving(*args) as served:
        async with httpx.AsyncClient(base_url=served.api_url) as client:
            assert (await client.get(NEEDS)).json()["error"] == "no_need"
            set_ = await client.post(NEEDS, json=need)
            assert set_.status_code == 201, set_.text
            assert set_.json() == {
                "station_id": "CP-1",
                "connector": 1,
                "energy_wh": 20000.0,
                "departure": departure,
                "max_current": 16.0,
                "min_current": None,
                "source": "api",
            }
            other = "/api/stations/CP-2/connectors/2/charging-needs"
            assert (await client.post(other, json={**need, "min_current": 6})).status_code == 201
            assert (await client.delete(other)).status_code == 204
            assert (await client.delete(other)).json()["error"] == "no_need"

            bad = await client.post(NEEDS, json={"energy_wh": 0, "departure": departure, "max_current": -2})
            assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
            assert [d["loc"] for d in bad.json()["details"]] == [
                ["body", "energy_wh"],
                ["body", "max_current"],
            ]
            late = await client.post(NEEDS, json={**need, "departure": later(-1), "min_current": 20})
            assert late.status_code == 422 and late.json()["error"] == "invalid_need"
            reasons = late.json()["details"]
            assert [r.split(":")[0] for r in reasons] == ["departure", "min_current"], reasons
            assert "in the future" in reasons[0] and "above max_current" in reasons[1]
            naive = await client.post(NEEDS, json={**need, "departure": "2030-01-01T00:00:00"})
            assert naive.status_code == 422 and "departure" in naive.json()["message"]
            assert (await client.post(NEEDS, json={"energy_wh": 1})).json()["error"] == "invalid_request"
            unknown = await client.post("/api/stations/CP-9/connectors/1/charging-needs", json=need)
            assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_station"

            assert (await client.get("/api/sites/depot/prices")).json()["error"] == "no_prices"
            put = await client.put("/api/sites/depot/prices", json=curve)
            assert put.status_code == 200, put.text
            assert put.json()["prices"][1] == {"start": "2026-11-28T02:00:00+01:00", "price": 0.1}  # as given
            disordered = {"prices": [curve["prices"][1], curve["prices"][0]]}
            wrong = await client.put("/api/sites/depot/prices", json=disordered)
            assert wrong.status_code == 422 and wrong.json()["error"] == "invalid_prices"
            assert "after the step before" in wrong.json()["message"]
            assert (await client.put("/api/sites/depot/prices", json={"prices": []})).status_code == 422
            refused = await client.delete("/api/sites/depot/prices")
            assert refused.status_code == 405 and refused.headers["allow"] == "GET, PUT"
            nowhere = await client.put("/api/sites/yard/prices", json=curve)
            assert nowhere.status_code == 404 and nowhere.json()["error"] == "unknown_site"
        assert await served.stop() == 0

    async with serving(*args) as served:
        async with httpx.AsyncClient(base_url=served.api_url) as client:
            assert (await client.get(NEEDS)).json()["energy_wh"] == 20000.0
            prices = (await client.get("/api/sites/depot/prices")).json()
            assert prices == {"site_id": "depot", "prices": put.json()["prices"], "currency": "EUR"}
            assert (await client.delete(NEEDS)).status_code == 204
            assert (await client.get(NEEDS)).status_code == 404
        assert await served.stop() == 0
