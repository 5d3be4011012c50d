"""Stations, transactions and event history over HTTP, after a real station's charging session."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from actors.events.station import FrameReceived, TransactionStopped
from adapters.config import StateOptions
from adapters.csms import open_csms
from core.projection import replay
from projections.live import LiveProjection
from tests.api.conftest import TOKEN, Api, api_config
from tests.integration.conftest import disconnected, url_of
from tests.integration.peer import PeerStation, peer_station

T0 = "2026-11-21T10:00:00Z"


def sample(power_kw: str, energy_kwh: str, at: str) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": at,
            "sampledValue": [
                {"value": power_kw, "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": energy_kwh, "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
            ],
        }
    ]


async def charge(peer: PeerStation, *, stop: bool) -> int:
    """A session on connector 1 with three meter values; stopped or left running."""
    started = await peer.call(
        "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=1000, timestamp=T0
    )
    tx: int = started["transaction_id"]
    await peer.call("StatusNotification", connector_id=1, error_code="NoError", status="Charging")
    for minute, (kw, kwh) in enumerate([("7.0", "1.1"), ("7.2", "1.2"), ("6.9", "1.3")], start=1):
        at = f"2026-11-21T10:0{minute}:00Z"
        await peer.call("MeterValues", connector_id=1, transaction_id=tx, meter_value=sample(kw, kwh, at))
    if stop:
        await peer.call(
            "StopTransaction", transaction_id=tx, meter_stop=1300, timestamp="2026-11-21T10:05:00Z"
        )
    return tx


async def test_stations_transactions_and_samples(api: Api) -> None:
    client = api.client
    async with peer_station(url_of(api.csms), "READ-1") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="Wallbox 22")
        await peer.call("StatusNotification", connector_id=0, error_code="NoError", status="Available")
        done = await charge(peer, stop=True)
        running = await charge(peer, stop=False)
        station = (await client.get("/api/stations/READ-1")).json()
        assert station["connected"] is True and station["status"] == "Available"
        assert (station["boot"]["vendor"], station["boot"]["model"]) == ("Acme", "Wallbox 22")
        assert station["last_seen"] is not None
        [connector] = station["connectors"]
        assert (connector["connector"], connector["status"]) == (1, "Charging")
        assert connector["transaction_id"] == running
        assert (connector["power_w"], connector["energy_wh"]) == (6900.0, 1300.0)
    assert (await disconnected(api.csms, "READ-1")).stations["READ-1"].connected is False
    listed = (await client.get("/api/stations")).json()
    assert [s["station_id"] for s in listed["stations"]] == ["READ-1"] and listed["next_after"] is None
    assert listed["stations"][0]["connected"] is False

    everything = (await client.get("/api/transactions")).json()["transactions"]
    assert [(t["transaction_id"], t["active"]) for t in everything] == [(done, False), (running, True)]
    finished = (await client.get("/api/transactions", params={"active": "false", "station": "READ-1"})).json()
    assert [t["transaction_id"] for t in finished["transactions"]] == [done]
    assert finished["transactions"][0]["energy_wh"] == 300
    assert (await client.get("/api/transactions", params={"station": "OTHER"})).json()["transactions"] == []
    since = {"since": "2026-11-21T10:00:00+00:00"}
    assert len((await client.get("/api/transactions", params=since)).json()["transactions"]) == 2
    since = {"since": "2026-11-21T10:00:01Z"}
    assert (await client.get("/api/transactions", params=since)).json()["transactions"] == []
    for bad in ("0.5", "2026-11-21", "2026-11-21T10:00:00", "2026-13-01T00:00:00Z"):
        refused = await client.get("/api/transactions", params={"since": bad})
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_request", bad
    first = (await client.get("/api/transactions", params={"limit": 1})).json()
    assert [t["transaction_id"] for t in first["transactions"]] == [done] and first["next_after"] == done
    rest = (await client.get("/api/transactions", params={"after": done})).json()
    assert [t["transaction_id"] for t in rest["transactions"]] == [running] and rest["next_after"] is None

    detail = (await client.get(f"/api/transactions/{done}")).json()
    assert detail["stopped"] == "2026-11-21T10:05:00Z" and detail["samples_truncated"] is False
    powers = [s["samples"][0]["value"] for s in detail["samples"]]
    assert powers == [7000.0, 7200.0, 6900.0], detail["samples"]
    assert [s["connector"] for s in detail["samples"]] == [1, 1, 1]
    capped = (await client.get(f"/api/transactions/{running}", params={"limit": 2})).json()
    assert len(capped["samples"]) == 2 and capped["samples_truncated"] is True
    assert capped["active"] is True
    after = {"after": capped["samples"][-1]["position"], "limit": 2}
    rest_of_samples = (await client.get(f"/api/transactions/{running}", params=after)).json()
    assert len(rest_of_samples["samples"]) == 1 and rest_of_samples["samples_truncated"] is False
    assert rest_of_samples["samples"][0]["samples"][0]["value"] == 6900.0
    too_big = await client.get("/api/stations", params={"limit": 201})
    assert too_big.status_code == 422, "station pages stay small enough to render on the trio thread"
    assert (await client.get("/api/transactions/999999")).status_code == 404


async def test_events_page_through_the_whole_stream(api: Api) -> None:
    async with peer_station(url_of(api.csms), "READ-2") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        await charge(peer, stop=True)
    await disconnected(api.csms, "READ-2")  # the last event: the stream stays put from here
    stored = await api.csms.store.read_stream("station/READ-2")
    pages: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = (
            await api.client.get("/api/stations/READ-2/events", params={"after": after, "limit": 7})
        ).json()
        assert len(page["events"]) <= 7
        pages.extend(page["events"])
        after = page["next_after"]
    assert [(e["sequence"], e["position"], e["type"]) for e in pages] == [
        (r.sequence, r.position, r.type) for r in stored
    ]
    assert all(e["stream"] == "station/READ-2" for e in pages)
    assert pages[0]["time"] == stored[0].time.isoformat()
    frames = [e for e in pages if e["type"] == FrameReceived.TYPE]
    assert '"BootNotification"' in frames[0]["data"]["text"], "raw frames come through as stored"
    assert any(e["type"] == TransactionStopped.TYPE for e in pages), "domain events too"
    tail = (await api.client.get("/api/stations/READ-2/events", params={"after": stored[-1].sequence})).json()
    assert tail == {"events": [], "next_after": None}
    assert (await api.client.get("/api/stations/NOPE/events")).status_code == 404
    bad = await api.client.get("/api/stations/READ-2/events", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"


async def test_transactions_that_left_memory_are_read_from_the_index(tmp_path: Path) -> None:
    config = replace(api_config(tmp_path), state=StateOptions(finished_transactions=1))
    async with (
        open_csms(config) as csms,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=20,
        ) as client,
    ):
        async with peer_station(url_of(csms), "IDX-1") as peer:
            await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
            done = [await charge(peer, stop=True) for _ in range(3)]
            running = await charge(peer, stop=False)
        await csms.live.wait_for(await csms.store.head())
        assert sorted(csms.live.state.transactions) == [done[-1], running], "one finished one kept"

        listed = (await client.get("/api/transactions")).json()
        everything = replay(LiveProjection(), await csms.store.read_all(0, limit=10_000)).transactions
        assert listed["transactions"] == [everything[tx].as_dict() for tx in [*done, running]]
        paged = (await client.get("/api/transactions", params={"limit": 2, "active": "false"})).json()
        assert [t["transaction_id"] for t in paged["transactions"]] == done[:2]
        assert paged["next_after"] == done[1]
        oldest = (await client.get(f"/api/transactions/{done[0]}")).json()
        assert {k: v for k, v in oldest.items() if not k.startswith("samples")} == everything[
            done[0]
        ].as_dict()
        assert [s["samples"][0]["value"] for s in oldest["samples"]] == [7000.0, 7200.0, 6900.0]
        assert oldest["samples_truncated"] is False
