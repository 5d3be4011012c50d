"""Station leases on the real PostgreSQL, without servers: the fencing of each commit, the rules for
taking a lease, and transaction-id blocks shared by two stores (two nodes) of one schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID, uuid4

import psycopg
import pytest
import trio

from actors.commands import Command, CommandNotRecorded
from actors.transaction_ids import Allocate, TransactionIds
from adapters.cluster.node import ClusterNode
from adapters.cluster.tables import ClusterTables, NodeNameTaken
from adapters.stores import open_store
from adapters.stores.postgres import postgres_target
from adapters.stores.recorded import RecordedStore
from adapters.stores.recording import stream_uuid
from core.actor import Reply
from core.clock import TrioClock
from core.dead_letters import DeadLetters
from core.events import NewEvent
from core.store import CommitFailed, NotOwner
from tests import pg

T0 = datetime(2026, 11, 27, tzinfo=UTC)


class FixedFence:
    """A fence holding given epochs, as a node that does not know it lost a lease would."""

    def __init__(self, node: str, held: dict[str, int]) -> None:
        self.node = node
        self.held = held

    def check(self, streams: Iterable[str]) -> None:
        for stream in streams:
            if stream.startswith("station/") and stream.removeprefix("station/") not in self.held:
                raise NotOwner(stream)

    def claims(self, streams: Iterable[str]) -> list[tuple[UUID, int]]:
        self.check(streams)
        return [
            (stream_uuid(s), self.held[s.removeprefix("station/")])
            for s in streams
            if s.startswith("station/")
        ]


@pytest.fixture
def store_url() -> object:
    with pg.schemas() as schemas:
        yield schemas.url()


@asynccontextmanager
async def node_store(
    url: str, lease_seconds: float = 30
) -> AsyncIterator[tuple[RecordedStore, ClusterTables]]:
    async with open_store(url) as store:
        assert isinstance(store, RecordedStore)
        tables = ClusterTables(store.log.recorder.datastore, lease_seconds)  # type: ignore[attr-defined]
        await trio.to_thread.run_sync(tables.create)
        yield store, tables


def _event(station: str, n: int) -> list[NewEvent]:
    return [NewEvent(f"station/{station}", "Noted", {"n": n}, T0)]


async def test_a_commit_under_a_lost_lease_stores_nothing(store_url: str) -> None:
    async with node_store(store_url) as (a, tables), node_store(store_url) as (b, _):
        taken = await trio.to_thread.run_sync(tables.acquire, "CP-1", "node-a", None)
        assert (taken.epoch, taken.fresh) == (1, True)
        a.log.fence = FixedFence("node-a", {"CP-1": 1})
        await a.append(_event("CP-1", 1), expected={"station/CP-1": 0})
        # node-a is not a live node (no row in chargeward_nodes): node-b takes the lease at once.
        taken = await trio.to_thread.run_sync(tables.acquire, "CP-1", "node-b", None)
        assert (taken.epoch, taken.fresh) == (2, True)
        b.log.fence = FixedFence("node-b", {"CP-1": 2})
        # node-a still believes it holds epoch 1 and appends at the right version: refused in the commit.
        with pytest.raises(CommitFailed, match="LeaseLost"):
            await a.append(_event("CP-1", 2), expected={"station/CP-1": 1})
        # Without expectations too (the version check alone would let it through).
        with pytest.raises(CommitFailed, match="LeaseLost"):
            await a.append(_event("CP-1", 3))
        await b.append(_event("CP-1", 4), expected={"station/CP-1": 1})
        # A station this node holds no lease of is refused before anything is queued.
        with pytest.raises(NotOwner):
            await b.append(_event("CP-2", 1))
        # Streams that are not stations' are not fenced.
        await a.append([NewEvent("node/local", "Noted", {}, T0)])
        assert [r.data["n"] for r in await b.read_stream("station/CP-1")] == [1, 4]


async def test_lease_rules(store_url: str) -> None:
    target = postgres_target(store_url)
    async with node_store(store_url, lease_seconds=0.5) as (_, tables):
        conn = psycopg.connect(**target.connect_kwargs(), autocommit=True)
        try:
            await trio.to_thread.run_sync(tables.register, conn, "node-a")
            taken = await trio.to_thread.run_sync(tables.acquire, "CP-1", "node-a", None)
            assert taken.epoch == 1
            # Held again by its node under the same epoch: kept, not a new epoch.
            again = await trio.to_thread.run_sync(tables.acquire, "CP-1", "node-a", 1)
            assert (again.epoch, again.fresh) == (1, False)
            # A live node's unexpired lease is not taken ...
            refused = await trio.to_thread.run_sync(tables.acquire, "CP-1", "node-b", None)
            assert (refused.epoch, refused.holder) == (None, "node-a")
            # ... nor is its name.
            other = psycopg.connect(**target.connect_kwargs(), autocommit=True)
            with pytest.raises(NodeNameTaken):
                await trio.to_thread.run_sync(tables.register, other, "node-a")
            other.close()
            # An expired one is, with the next epoch; the renewal of the loser no longer finds it.
            await trio.sleep(0.6)
            taken = await trio.to_thread.run_sync(tables.acquire, "CP-1", "node-b", None)
            assert (taken.epoch, taken.fresh) == (2, True)
            assert await trio.to_thread.run_sync(tables.renew, "node-a", ["CP-1"]) == {}
            # Released: the next node takes it at once, epochs never go back.
            await trio.to_thread.run_sync(tables.release, "CP-1", "node-b", 2)
            long = ClusterTables(tables.datastore, 30)  # node-a's lease now lasts 30 s ...
            taken = await trio.to_thread.run_sync(long.acquire, "CP-1", "node-a", None)
            assert taken.epoch == 3
        finally:
            conn.close()
        # ... but its connection closed (its process died): the lease is taken well before.
        with trio.fail_after(10):
            while True:  # the server notices the closed connection within moments
                taken = await trio.to_thread.run_sync(tables.acquire, "CP-1", "node-b", None)
                if taken.epoch is not None:
                    break
                await trio.sleep(0.1)
        assert taken.epoch == 4


async def _allocate(ids: TransactionIds) -> int:
    reply: Reply[int] = Reply(DeadLetters(), "transaction_ids", "test")
    await ids.receive(Allocate(reply))
    return await reply._wait()


async def test_transaction_ids_stay_unique_across_two_nodes(store_url: str) -> None:
    async with node_store(store_url) as (a, _), node_store(store_url) as (b, _):
        first = TransactionIds(a, TrioClock(), block=3)
        second = TransactionIds(b, TrioClock(), block=3)
        await first.started()
        await second.started()
        got = [await _allocate(first if n % 3 else second) for n in range(20)]
    assert len(got) == len(set(got))


async def test_a_node_of_another_postgresql_user_is_alive_while_its_session_is(store_url: str) -> None:
    """A non-superuser sees another user's session without its start time; that node still counts
    as alive (by its pid) while its session lasts, and dead once it closed."""
    suffix = uuid4().hex[:8]
    viewer, other = f"cw_view_{suffix}", f"cw_other_{suffix}"
    schema = store_url.split("schema=")[1]
    as_user = store_url.replace("//root@", "//{}@", 1)
    async with node_store(store_url):  # the tables, created as the superuser
        pg.execute(
            f"CREATE ROLE {viewer} LOGIN; CREATE ROLE {other} LOGIN; "
            f"GRANT USAGE ON SCHEMA {schema} TO {viewer}, {other}; "
            f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {viewer}, {other}"
        )
    try:
        target = postgres_target(as_user.format(other))
        async with open_store(as_user.format(viewer)) as store:
            assert isinstance(store, RecordedStore)
            tables = ClusterTables(store.log.recorder.datastore, 30)  # type: ignore[attr-defined]
            conn = psycopg.connect(**target.connect_kwargs(), autocommit=True)
            try:
                await trio.to_thread.run_sync(tables.register, conn, "node-x")
                (row,) = await trio.to_thread.run_sync(tables.nodes)
                assert (row.node, row.alive) == ("node-x", True)
            finally:
                conn.close()
            with trio.fail_after(10):
                while True:  # the server notices the closed connection within moments
                    if not (await trio.to_thread.run_sync(tables.nodes))[0].alive:
                        break
                    await trio.sleep(0.1)
    finally:
        pg.execute(f"DROP OWNED BY {viewer}, {other}; DROP ROLE {viewer}; DROP ROLE {other}")


async def test_a_command_through_a_node_that_cannot_reach_postgresql_is_not_recorded(store_url: str) -> None:
    """503 over the API (``CommandNotRecorded``), not a crash, while the store's pool has no connection."""
    async with open_store(store_url) as store:
        assert isinstance(store, RecordedStore)
        datastore = store.log.recorder.datastore  # type: ignore[attr-defined]
        node = ClusterNode(
            "node-a",
            store=store,
            target=postgres_target(store_url),
            tables=ClusterTables(datastore, 30),
            fleet=None,  # type: ignore[arg-type]  # not reached: the lookup of the owner fails first
            lease_seconds=30,
        )
        datastore.pool.close()
        with pytest.raises(CommandNotRecorded, match="cannot be reached"):
            await node.call("CP-1", Command("GetLocalListVersion", {}), wait=5)


@pytest.mark.slow
async def test_after_a_postgresql_restart_a_node_is_alive_while_its_heartbeat_is_fresh() -> None:
    """A restart ends every node's recorded session: a node then counts as alive while its heartbeat
    is under a lease old (its lease is not taken), until it reattaches a new session; a node that
    neither beats nor reattaches is dead a lease later. On a PostgreSQL of the test's own, restarted
    as a crash (``pg_ctl restart -m immediate``)."""
    with pg.private_server() as server:
        target = postgres_target(server.url)
        async with node_store(server.url) as (_, tables):
            quick = ClusterTables(tables.datastore, 3)  # a viewer whose leases last 3 s
            conns = [psycopg.connect(**target.connect_kwargs(), autocommit=True) for _ in range(3)]
            try:
                for conn, node in zip(conns, ("node-a", "node-b"), strict=False):
                    await trio.to_thread.run_sync(tables.register, conn, node)
                for station, node in (("CP-1", "node-a"), ("CP-2", "node-b")):
                    assert (await trio.to_thread.run_sync(tables.acquire, station, node, None)).epoch == 1
                await trio.to_thread.run_sync(server.restart, "immediate")
                for node in ("node-a", "node-b"):  # their heartbeats, on the store's (new) connections
                    await trio.to_thread.run_sync(tables.renew, node, [])
                rows = await trio.to_thread.run_sync(quick.nodes)
                assert {row.node: row.alive for row in rows} == {"node-a": True, "node-b": True}
                refused = await trio.to_thread.run_sync(quick.acquire, "CP-1", "node-c", None)
                assert (refused.epoch, refused.holder) == (None, "node-a")
                # node-a reattaches; node-b, as if it died with the restart, does nothing more.
                conns[2] = psycopg.connect(**target.connect_kwargs(), autocommit=True)
                await trio.to_thread.run_sync(tables.reattach, conns[2], "node-a")
                await trio.sleep(3.5)
                rows = await trio.to_thread.run_sync(quick.nodes)
                assert {row.node: row.alive for row in rows} == {"node-a": True, "node-b": False}
                taken = await trio.to_thread.run_sync(quick.acquire, "CP-2", "node-c", None)
                assert taken.epoch == 2
            finally:
                for conn in conns:
                    conn.close()
