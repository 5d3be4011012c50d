"""Transactions a real station (the ocpp package's ChargePoint) leaves in odd states: a start on a
connector whose transaction is still open (issue 10, defect 8), a StopTransaction repeated, also
after the server restarted, and a stop for a transaction never seen (defect 9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from actors.events.station import TransactionStopped, TransactionStopRepeated
from adapters.csms import Csms, open_csms
from tests.api.conftest import TOKEN, Api, api_config
from tests.integration.conftest import live, url_of
from tests.integration.peer import PeerStation, peer_station


async def start(peer: PeerStation, meter_start: int, minute: int) -> int:
    reply = await peer.call(
        "StartTransaction",
        connector_id=1,
        id_tag="TAG-OK",
        meter_start=meter_start,
        timestamp=f"2026-11-21T10:{minute:02}:00Z",
    )
    tx: int = reply["transaction_id"]
    return tx


async def meter(peer: PeerStation, tx: int, energy: int, minute: int) -> None:
    await peer.call(
        "MeterValues",
        connector_id=1,
        transaction_id=tx,
        meter_value=[
            {
                "timestamp": f"2026-11-21T10:{minute:02}:00Z",
                "sampledValue": [
                    {"value": str(energy), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                ],
            }
        ],
    )


async def stop(peer: PeerStation, tx: int, meter_stop: int, minute: int) -> dict[str, Any]:
    return await peer.call(
        "StopTransaction",
        transaction_id=tx,
        meter_stop=meter_stop,
        id_tag="TAG-OK",
        timestamp=f"2026-11-21T10:{minute:02}:00Z",
        reason="Local",
    )


async def logged(csms: Csms, station_id: str, kind: str) -> list[dict[str, Any]]:
    return [r.data for r in await csms.store.read_stream(f"station/{station_id}") if r.type == kind]


async def test_a_second_start_on_the_connector_closes_the_open_transaction(api: Api) -> None:
    async with peer_station(url_of(api.csms), "TX-8") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        first = await start(peer, 1000, 0)
        await meter(peer, first, 1400, 1)
        second = await start(peer, 1500, 2)
        await live(api.csms)
        txs = {
            t["transaction_id"]: t for t in (await api.client.get("/api/transactions")).json()["transactions"]
        }
        assert txs[first]["active"] is False
        assert (txs[first]["closed_by"], txs[first]["stop_reason"]) == ("csms", "superseded")
        assert (txs[first]["meter_stop_wh"], txs[first]["energy_wh"]) == (1500, 500)
        assert txs[second]["active"] is True and txs[second]["closed_by"] is None
        station = (await api.client.get("/api/stations/TX-8")).json()
        assert station["connectors"][0]["transaction_id"] == second
        await stop(peer, second, 1800, 3)
        txs = {
            t["transaction_id"]: t for t in (await api.client.get("/api/transactions")).json()["transactions"]
        }
        assert (txs[second]["closed_by"], txs[second]["energy_wh"]) == ("station", 300)
    stops = await logged(api.csms, "TX-8", TransactionStopped.TYPE)
    assert [(s["transaction_id"], s["closed_by"]) for s in stops] == [(first, "csms"), (second, "station")]


@asynccontextmanager
async def serving(data_dir: Path) -> AsyncIterator[tuple[Csms, httpx.AsyncClient]]:
    async with (
        open_csms(api_config(data_dir)) as csms,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=20,
        ) as client,
    ):
        yield csms, client


async def energy(client: httpx.AsyncClient, tx: int) -> tuple[Any, Any, Any]:
    found = (await client.get(f"/api/transactions/{tx}")).json()
    return found["energy_wh"], found["meter_stop_wh"], found["stopped"]


async def test_a_repeated_stop_changes_nothing_also_after_a_restart(tmp_path: Path) -> None:
    """The exact sequence a third-party simulator sends: start, meter values, stop, stop again."""
    async with serving(tmp_path) as (csms, client), peer_station(url_of(csms), "TX-9") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        tx = await start(peer, 1000, 0)
        await meter(peer, tx, 1800, 1)
        await meter(peer, tx, 2600, 2)
        assert (await stop(peer, tx, 3000, 3))["id_tag_info"]["status"] == "Accepted"
        await live(csms)
        before = await energy(client, tx)
        assert before == (2000, 3000, "2026-11-21T10:03:00Z")
        assert (await stop(peer, tx, 3000, 4))["id_tag_info"]["status"] == "Accepted"
        await live(csms)
        assert await energy(client, tx) == before
        assert [s["transaction_id"] for s in await logged(csms, "TX-9", TransactionStopRepeated.TYPE)] == [tx]
    # Rebuilt from the log, the server still knows the transaction was stopped.
    async with serving(tmp_path) as (csms, client), peer_station(url_of(csms), "TX-9") as peer:
        assert (await stop(peer, tx, 3000, 5))["id_tag_info"]["status"] == "Accepted"
        await stop(peer, 424242, 10, 6)  # never started here
        await live(csms)
        assert await energy(client, tx) == before
        repeated = await logged(csms, "TX-9", TransactionStopRepeated.TYPE)
        assert [(r["transaction_id"], r["timestamp"]) for r in repeated][-1] == (
            tx,
            "2026-11-21T10:05:00Z",
        )
        stops = await logged(csms, "TX-9", TransactionStopped.TYPE)
        assert [(s["transaction_id"], s["known"]) for s in stops] == [(tx, True), (424242, False)]
