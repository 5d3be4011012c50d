"""Defect 5 of issue 10: a slow or failed transaction-id allocation fails only that StartTransaction.

The station gets CALLERROR InternalError for it and stays connected; the allocator keeps running,
and after a reservation of unknown outcome it skips that block rather than reuse its ids.
"""

from __future__ import annotations

from typing import Any

import trio

from actors.station import ALLOCATE_TIMEOUT
from tests.actors.station_bench import Bench, station_bench

START = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": "2026-11-27T00:00:00Z"}


def on_node_streams(stream: str) -> bool:
    return stream.startswith("node/")


async def start(bench: Bench) -> list[Any]:
    return await bench.call("StartTransaction", START)


async def test_a_failed_reservation_answers_internal_error_and_the_next_start_gets_an_id() -> None:
    async with station_bench() as bench:
        bench.store.only = on_node_streams
        bench.store.lost = 1
        refused = await start(bench)
        assert refused[0] == 4 and refused[2] == "InternalError", refused
        assert (await bench.call("Heartbeat", {}))[0] == 3
        started = await start(bench)
        assert started[0] == 3 and isinstance(started[2]["transactionId"], int), started
        assert len(bench.incarnations) == 1 and bench.line.closed is None


async def test_a_reservation_of_unknown_outcome_skips_its_block() -> None:
    async with station_bench() as bench:
        bench.store.only = on_node_streams
        bench.store.unknown = 1  # the block 1..100 is stored, but the allocator is told it failed
        assert (await start(bench))[2] == "InternalError"
        started = await start(bench)
        assert started[0] == 3 and started[2]["transactionId"] > 100, started


async def test_a_slow_allocation_answers_internal_error_and_the_station_stays(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with station_bench() as bench:
        bench.store.only = on_node_streams
        bench.store.latency = 2 * ALLOCATE_TIMEOUT
        refused = await start(bench)
        assert refused[0] == 4 and refused[2] == "InternalError", refused
        bench.store.latency = 0
        await trio.sleep(2 * ALLOCATE_TIMEOUT)  # the slow reservation completes meanwhile
        started = await start(bench)
        assert started[0] == 3 and isinstance(started[2]["transactionId"], int), started
        assert len(bench.incarnations) == 1 and bench.line.closed is None
