"""The transaction index holds every transaction as the live projection folds it (hypothesis), in every
store backend, whether its runner ran throughout or was stopped and resumed part-way, and lists OCPP
1.6's integer ids then 2.0.1's string ids, page by page; the live state keeps only the running
transactions and the last finished ones."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events.station import TransactionStarted, TransactionStopped
from adapters.stores import open_store
from core.events import NewEvent
from core.projection import replay
from core.store import CommitFailed, EventStore
from projections.live import LiveProjection
from projections.transactions import (
    IndexedTransaction,
    TransactionIndexRunner,
    TransactionQuery,
    listing_key,
)
from tests.projections.test_live_checkpoint import records_of, scripts, url_of
from tests.projections.test_live_replay import T0, domain, event, stations

# 2.0.1's string ids beside 1.6's integers ("3" looks like one and is not; "é" sorts past ASCII).
string_ids = st.sampled_from(["tx-b", "3", "tx-a", "é"])
with_string_ids = st.lists(
    st.tuples(
        stations,
        st.one_of(
            domain,
            st.builds(
                lambda t, c: event(
                    TransactionStarted,
                    transaction_id=t,
                    connector=c,
                    id_tag="T",
                    meter_start_wh=1.0,
                    timestamp="t",
                ),
                string_ids,
                st.integers(1, 2),
            ),
            st.builds(
                lambda t: event(
                    TransactionStopped,
                    transaction_id=t,
                    connector=1,
                    meter_stop_wh=5.0,
                    timestamp="t2",
                    reason="Local",
                ),
                string_ids,
            ),
        ),
    ),
    min_size=1,
    max_size=40,
)


async def index_to_head(store: EventStore, position_every: int) -> TransactionIndexRunner:
    runner = TransactionIndexRunner(store, store, position_every=position_every)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        await runner.wait_for(await store.head())
        nursery.cancel_scope.cancel()
    return runner


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
@settings(max_examples=15, deadline=None)
@given(script=with_string_ids, cut=st.integers(0, 40), every=st.integers(1, 7))
def test_the_index_holds_every_transaction_as_the_live_fold_does(
    backend: str, script: list[tuple[str, tuple[str, dict[str, Any]]]], cut: int, every: int
) -> None:
    async def scenario(directory: str) -> None:
        async with open_store(url_of(backend, directory)) as store:
            for part in (script[:cut], script[cut:]):  # a runner stopped and resumed between them
                if part:
                    await store.append([NewEvent(f"station/{s}", kind, data, T0) for s, (kind, data) in part])
                resumed = await index_to_head(store, every)
            assert resumed.restored_from == (len(records_of(script[:cut])) if cut else 0)
            records = await store.read_all(0, limit=10_000)
            expected = replay(LiveProjection(), records).transactions
            rows = await store.find_transactions(TransactionQuery(limit=1000))  # type: ignore[attr-defined]
            indexed = [IndexedTransaction.from_row(row) for row in rows]
            in_order = sorted(expected, key=listing_key)
            assert [tx.view for tx in indexed] == [expected[tx_id] for tx_id in in_order]
            paged: list[Any] = []
            query = TransactionQuery(limit=2)
            while rows := await store.find_transactions(query):  # type: ignore[attr-defined]
                paged += [row["transaction_id"] for row in rows]
                query = TransactionQuery(after=rows[-1]["transaction_id"], limit=2)
            assert paged == in_order
            streams = {(r.stream, r.sequence): r for r in records}
            for tx in indexed:  # where its samples are read from
                start = streams[f"station/{tx.view.station_id}", tx.start_sequence]
                assert start.type == "TransactionStarted"
                assert start.data["transaction_id"] == tx.view.transaction_id
            for station in "ABC":
                for active in (None, True, False):
                    query = TransactionQuery(station=station, active=active, limit=1000)
                    found = [row["transaction_id"] for row in await store.find_transactions(query)]  # type: ignore[attr-defined]
                    assert found == [
                        tx_id
                        for tx_id in in_order
                        if expected[tx_id].station_id == station and active in (None, expected[tx_id].active)
                    ]

    with tempfile.TemporaryDirectory() as directory:
        trio.run(scenario, directory)


@settings(max_examples=60, deadline=None)
@given(script=scripts, keep=st.integers(0, 3))
def test_the_live_state_keeps_running_and_the_last_finished_transactions(
    script: list[tuple[str, tuple[str, dict[str, Any]]]], keep: int
) -> None:
    records = records_of(script)
    everything = replay(LiveProjection(), records).transactions
    bounded = replay(LiveProjection(keep), records).transactions
    running = {tx_id for tx_id, tx in everything.items() if tx.active}
    assert running <= set(bounded)
    assert len(set(bounded) - running) <= keep
    assert all(bounded[tx_id] == everything[tx_id] for tx_id in bounded)


class FailingTwice:
    """The store as the index's store, except that its first two writes cannot reach it."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.failures = 2

    async def transactions_position(self) -> int:
        return int(await self.store.transactions_position())

    async def apply_transactions(self, rows: Any, position: int) -> None:
        if self.failures:
            self.failures -= 1
            raise CommitFailed("cannot write to the event store: connection lost")
        await self.store.apply_transactions(rows, position)


async def test_an_index_write_that_cannot_reach_the_store_is_tried_again() -> None:
    """A database restart delays the index; it does not end its runner (nor what started after it)."""
    async with open_store("memory://") as store:
        kind, data = event(
            TransactionStarted, transaction_id=7, connector=1, id_tag="T", meter_start_wh=1.0, timestamp="t"
        )
        await store.append([NewEvent("station/CP-1", kind, data, T0)])
        index = FailingTwice(store)
        runner = TransactionIndexRunner(store, index, position_every=1)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            await nursery.start(runner.run)
            await runner.wait_for(await store.head())
            nursery.cancel_scope.cancel()
        assert index.failures == 0
        assert (await store.get_transaction(7)) is not None  # type: ignore[attr-defined]
