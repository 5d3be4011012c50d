"""PostgreSQL specifics: what its URL takes, the one-line errors for each way opening fails, the rows
it stores, and commits that fail without being acknowledged. The contract itself runs in
test_store_conformance.py."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import trio

from adapters.stores import open_store
from adapters.stores.postgres import postgres_target
from adapters.stores.recorded import RecordedStore
from core.events import EventRecord, NewEvent
from core.store import BadStoreUrl, CommitFailed, StoreUnavailable
from tests import pg
from tests.core.test_store_conformance import (
    ROOT,
    STRANGER,
    T0,
    assert_well_ordered,
    event,
    everything,
)


@pytest.fixture
def server() -> str:
    return pg.server_url()


def test_urls_name_user_host_port_database_and_options() -> None:
    target = postgres_target("postgresql://cw:s%40cret@db.example:6543/events?schema=site_a&pool_size=3")
    assert (target.user, target.password, target.host, target.port, target.database) == (
        "cw",
        "s@cret",
        "db.example",
        6543,
        "events",
    )
    assert (target.schema, target.pool_size, target.connect_timeout) == ("site_a", 3, 5)
    assert "s@cret" not in target.location and "cw@db.example:6543/events" in target.location
    default = postgres_target("postgres://root@127.0.0.1/test")
    assert (default.port, default.schema, default.password) == (5432, "public", "")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://127.0.0.1:5432/test", "names no user"),
        ("postgresql://root@/test", "names no host"),
        ("postgresql://root@127.0.0.1:5432", "must name one database"),
        ("postgresql://root@127.0.0.1:5432/a/b", "must name one database"),
        ("postgresql://root@127.0.0.1:99999/test", "bad port"),
        ("postgresql://root@127.0.0.1/test?fast=1", r"unknown postgresql URL options \['fast'\]"),
        ("postgresql://root@127.0.0.1/test?schema=Bad-Name", "schema must be a lower-case SQL identifier"),
        ("postgresql://root@127.0.0.1/test?pool_size=0", "pool_size must be at least 1"),
        ("postgresql://root@127.0.0.1/test?connect_timeout=soon", "connect_timeout must be a whole number"),
    ],
)
async def test_a_wrong_url_is_refused_in_one_line_before_connecting(url: str, says: str) -> None:
    with pytest.raises(BadStoreUrl, match=says) as refused:
        async with open_store(url):
            pass
    assert "\n" not in str(refused.value)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once the socket is closed


async def test_an_unreachable_server_is_store_unavailable_in_one_line() -> None:
    port = _closed_port()
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}/test.*PostgreSQL does not answer") as e:
        async with open_store(f"postgresql://root@127.0.0.1:{port}/test?connect_timeout=2"):
            pass
    assert "\n" not in str(e.value)


async def test_a_missing_database_is_store_unavailable_saying_so(server: str) -> None:
    url = server.rsplit("/", 1)[0] + "/chargeward_no_such_database"
    with pytest.raises(StoreUnavailable, match='database "chargeward_no_such_database" does not exist') as e:
        async with open_store(url):
            pass
    assert "createdb" in str(e.value) and "\n" not in str(e.value)


async def test_an_unknown_user_cannot_log_in(server: str) -> None:
    url = server.replace("//root@", "//chargeward_nobody@", 1)
    with pytest.raises(StoreUnavailable, match=r'cannot log in: .*"chargeward_nobody"'):
        async with open_store(url):
            pass


@pytest.fixture
def weak_user(server: str, pg_schemas: pg.Schemas) -> Iterator[tuple[str, str]]:
    """A role that may log in and nothing more, and a schema the superuser made: (store URL, schema)."""
    role = f"cw_weak_{uuid.uuid4().hex[:10]}"
    pg.execute(f"CREATE ROLE {role} LOGIN")
    url = pg_schemas.url()
    schema = url.rsplit("schema=", 1)[1]
    try:
        yield url.replace("//root@", f"//{role}@", 1), schema
    finally:
        pg_schemas.drop()
        pg.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


async def test_missing_rights_are_store_unavailable_naming_the_grant(weak_user: tuple[str, str]) -> None:
    url, schema = weak_user
    role = url.split("//", 1)[1].split("@", 1)[0]
    with pytest.raises(StoreUnavailable, match=f"user {role} may not create schema {schema}"):
        async with open_store(url):
            pass
    pg.execute(f"CREATE SCHEMA {schema}")
    with pytest.raises(StoreUnavailable, match=f"user {role} may not use schema {schema}"):
        async with open_store(url):
            pass
    pg.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    with pytest.raises(StoreUnavailable, match=f"may not create tables in schema {schema}.*GRANT CREATE"):
        async with open_store(url):
            pass
    async with open_store(url.replace(f"//{role}@", "//root@", 1)) as store:  # the owner makes the tables
        await store.append([event("station/CP-1", 1)])
    unwritable = f"may not read and write table {schema}.chargeward_positions .GRANT SELECT"
    with pytest.raises(StoreUnavailable, match=unwritable):
        async with open_store(url):
            pass
    pg.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {role}")
    async with open_store(url) as store:  # tables there, rights granted, no CREATE needed
        assert [r.data["n"] for r in await store.read_all()] == [1]
        [record] = await store.append([event("station/CP-1", 2)])
        assert (record.sequence, record.position) == (2, 2)


async def test_postgres_stores_one_row_per_run(server: str, pg_schemas: pg.Schemas) -> None:
    url = pg_schemas.url()
    schema = url.rsplit("schema=", 1)[1]
    async with open_store(url) as store:
        exchange = [event("station/CP-1", 1, "FrameReceived"), event("station/CP-1", 1, "MeterSampled")]
        await store.append([*exchange, event("station/CP-1", 1, "FrameSent"), event("meter/grid", 2)])
        await store.append([event("station/CP-1", 3)])
    with psycopg.connect(server) as conn:
        rows = conn.execute(
            f"SELECT notification_id, originator_version, topic FROM {schema}.stored_events "
            "ORDER BY notification_id"
        ).fetchall()
    # notification id: the position of the run's last event; version: the sequence of its first.
    assert rows == [(3, 1, "FrameReceived,MeterSampled,FrameSent"), (4, 1, "Sampled"), (5, 4, "Sampled")]


async def test_a_commit_that_fails_is_not_acknowledged_and_the_store_goes_on(
    server: str, pg_schemas: pg.Schemas
) -> None:
    """A commit PostgreSQL refuses fails its appenders with CommitFailed; the next one commits."""
    url = pg_schemas.url()
    schema = url.rsplit("schema=", 1)[1]
    async with open_store(url) as store:
        await store.append([event("station/CP-1", 1)])
        pg.execute(f"ALTER TABLE {schema}.stored_events ADD CONSTRAINT no_more CHECK (notification_id < 2)")
        with pytest.raises(CommitFailed, match="nothing of it was stored"):
            await store.append([event("station/CP-1", 2)])
        pg.execute(f"ALTER TABLE {schema}.stored_events DROP CONSTRAINT no_more")
        [record] = await store.append([event("station/CP-1", 3)])
        assert (record.sequence, record.position) == (2, 2)
        assert [r.data["n"] for r in await store.read_all()] == [1, 3]


async def test_connections_killed_under_the_pool_are_replaced(
    server: str, pg_schemas: pg.Schemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a PostgreSQL restart: every connection the store holds dies; the next commit and read
    get fresh ones (the pool checks a connection before handing it out)."""
    name = f"cw-killed-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", name)  # libpq names every connection this store opens
    async with open_store(pg_schemas.url("pool_size=1")) as store:
        for n in range(20):
            await store.append([event(f"station/CP-{n % 4}", n)])
            await store.read_stream(f"station/CP-{n % 4}")
        with psycopg.connect(server, autocommit=True, application_name="cw-killer") as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (name,),
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        [record] = await store.append([event("station/CP-1", 99)])
        assert record.position == 21
        assert len(await store.read_all(limit=100)) == 21


@pytest.mark.slow
async def test_the_first_commit_after_a_real_postgresql_restart_is_stored() -> None:
    """On a PostgreSQL of the test's own, restarted cleanly and as a crash: the store's five pooled
    connections all die; the first append after each restart is stored (it used to wait out
    ``connect_timeout`` behind the pool's backoff between checks of the broken ones, and fail)."""
    with pg.private_server() as private:
        async with open_store(private.url) as store:
            await store.append([event("station/CP-1", 0)])
            for n, mode in enumerate(("fast", "immediate"), start=1):
                await trio.to_thread.run_sync(private.restart, mode)
                [record] = await store.append([event("station/CP-1", n)])
                assert record.position == n + 1
            assert len(await store.read_stream("station/CP-1")) == 3


async def test_followers_wake_on_notify_without_polling_and_catch_up_after_a_lost_listener(
    server: str, pg_schemas: pg.Schemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's commits wake an idle follower (LISTEN/NOTIFY); an idle follower reads nothing
    in between; when the listening connection dies, it reconnects and the follower catches up on what
    was committed meanwhile."""
    name = f"cw-listen-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", name)
    url = pg_schemas.url()
    async with open_store(url) as store:
        assert isinstance(store, RecordedStore) and store.log.notifier is not None
        reads = 0
        read_all = store.read_all

        async def counted(after: int = 0, limit: int = 1000) -> list[EventRecord]:
            nonlocal reads
            reads += 1
            return await read_all(after, limit)

        monkeypatch.setattr(store, "read_all", counted)
        seen: list[EventRecord] = []
        reached = {5: trio.Event(), 10: trio.Event()}

        async def follow() -> None:
            async for record in store.follow():
                seen.append(record)
                if len(seen) in reached:
                    reached[len(seen)].set()

        async def stranger() -> None:
            await trio.run_process([sys.executable, "-c", STRANGER, url], cwd=ROOT)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(follow)
            await trio.sleep(1)  # idle: caught up on an empty log, waiting
            assert reads <= 1
            with trio.fail_after(30):
                await stranger()
                await reached[5].wait()
            with psycopg.connect(server, autocommit=True, application_name="cw-killer") as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND query LIKE 'LISTEN%%'",
                    (name,),
                )
            with trio.fail_after(30):
                await stranger()  # maybe before the listener is back: the reconnect's wake-up covers it
                await reached[10].wait()
            assert store.log.notifier.connects >= 2  # type: ignore[attr-defined]
            nursery.cancel_scope.cancel()
        assert [r.data["i"] for r in seen] == [0, 1, 2, 3, 4] * 2
        assert [r.position for r in seen] == list(range(1, 11))


async def test_connections_killed_under_load_lose_nothing_acknowledged_and_store_nothing_twice(
    server: str, pg_schemas: pg.Schemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a PostgreSQL restart does to a busy store, without restarting the machine's server: every
    connection the store holds is killed, again and again, while 20 appenders append. Appends in those
    moments fail (CommitFailed: not stored, or may be stored); every acknowledged one is in the log;
    no event is stored twice (the recorder never retries a commit); the store goes on."""
    name = f"cw-churn-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", name)
    url = pg_schemas.url("pool_size=2")
    acknowledged: set[tuple[int, int]] = set()
    failed = attempts = kills = 0
    killing = True

    async def appender(k: int) -> None:
        nonlocal failed, attempts
        i = 0
        while killing or i < 5:
            attempts += 1
            try:
                await store.append([NewEvent(f"station/CP-{k}", "Tick", {"k": k, "i": i}, T0)])
            except CommitFailed:
                failed += 1
            else:
                acknowledged.add((k, i))
            i += 1

    def kill_all() -> int:
        with psycopg.connect(server, autocommit=True, application_name="cw-killer") as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (name,),
            ).fetchone()
        return int(row[0]) if row else 0

    async with open_store(url) as store:
        async with trio.open_nursery() as nursery:
            for k in range(20):
                nursery.start_soon(appender, k)
            for _ in range(10):
                await trio.sleep(0.2)
                kills += await trio.to_thread.run_sync(kill_all)
            killing = False
        [after] = await store.append([NewEvent("station/CP-0", "Tick", {"k": -1, "i": 0}, T0)])
    assert kills >= 10
    async with open_store(url) as reopened:
        stored = await everything(reopened)
    keys = [(r.data["k"], r.data["i"]) for r in stored]
    assert len(keys) == len(set(keys)), "an event was stored twice"
    assert acknowledged <= set(keys)
    assert after.position == stored[-1].position == len(stored)
    assert len(acknowledged) + failed == attempts
    assert_well_ordered(stored)
