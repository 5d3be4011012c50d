"""The root supervisor: its children in start order, and a rest_for_one restart that keeps serving.

The transaction-id allocator is made to crash until its own supervisor gives up (a message it
cannot handle, six times in a row); the root then restarts it and every child after it (stations,
projections, OCPP listener, API). A real station (the ``ocpp`` package's ChargePoint) reconnects
and starts a transaction with an id from the new allocator, after the ones already handed out.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import httpx
import trio

from actors.events.station import TransactionStarted
from adapters.api import ApiOptions
from adapters.csms import open_csms
from tests.integration.conftest import live, make_config, url_of
from tests.integration.peer import peer_station

NOW = "2026-11-21T10:00:00Z"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_root_children_start_in_order_and_a_failed_child_restarts_those_after_it(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    # A fixed port, so the station can reconnect to the restarted listener.
    config = replace(
        config,
        server=replace(config.server, port=free_port()),
        api=ApiOptions(host="127.0.0.1", port=0),
    )
    async with open_csms(config) as csms, peer_station(url_of(csms), "CP-ROOT") as station:
        root = csms.root
        assert root is not None
        assert root.children() == [
            "transaction-ids",
            "stations",
            "projections",
            "transaction-index",
            "ocpp-listener",
            "api",
        ]
        await station.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
        first = await station.call(
            "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=NOW
        )

        allocator = csms.fleet.transaction_ids_supervisor.child("transaction-ids")
        assert allocator is not None
        port = csms.ocpp_port
        csms.ocpp_port = None  # set again by the listener the root restarts
        for _ in range(6):  # intensity 5: the sixth crash makes its supervisor give up
            allocator.try_send(None)  # type: ignore[arg-type]  # the injected fault: not an Allocate
        with trio.fail_after(30):
            while csms.runtime.stats.escalations["transaction-ids"] == 0:  # noqa: ASYNC110 - a counter
                await trio.sleep(0.05)
            # The station reconnects once the restarted listener is up: reconnecting while the old
            # one is going down and the new one not yet up would be refused.
            while csms.ocpp_port is None:  # noqa: ASYNC110 - set by the listener's start-up
                await trio.sleep(0.05)
        assert csms.ocpp_port == port
        await station.reconnect()  # the restarted listener dropped the connection
        second = await station.call(
            "StartTransaction", connector_id=2, id_tag="TAG-OK", meter_start=0, timestamp=NOW
        )
        assert second["transaction_id"] > first["transaction_id"]
        assert "current_time" in await station.call("Heartbeat")
        assert root.children() == [
            "transaction-ids",
            "stations",
            "projections",
            "transaction-index",
            "ocpp-listener",
            "api",
        ]
        assert "root" not in csms.runtime.stats.escalations
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}") as client:
            view = (await client.get("/api/stations/CP-ROOT")).json()
        assert view["connected"] is True
        state = await live(csms)
        assert {tx.transaction_id for tx in state.transactions.values()} == {
            first["transaction_id"],
            second["transaction_id"],
        }
        records = await csms.store.read_stream("station/CP-ROOT")
        assert [r.type for r in records].count(TransactionStarted.TYPE) == 2
