"""The batching writer: group commit, per-request conflicts, failures, cancellation, shutdown.

All against real logs (the POPO recorder, SQLite files), with SQLite failures made by SQLite itself.
"""

from __future__ import annotations

import itertools
import logging
import pathlib
import sqlite3
from datetime import UTC, datetime

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.stores import open_store
from adapters.stores.memory import open_log
from adapters.stores.recorded import RecordedStore
from core.events import EventRecord, NewEvent
from core.store import CommitFailed, ConcurrencyConflict, StoreClosed
from core.writer import BatchingWriter

EXAMPLES = itertools.count()
T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


def event(stream: str, n: int) -> NewEvent:
    return NewEvent(stream, "Sampled", {"n": n}, T0)


def recorded(store: object) -> RecordedStore:
    assert isinstance(store, RecordedStore)
    return store


async def test_concurrent_appends_share_commits_and_are_counted(tmp_path: pathlib.Path) -> None:
    commits: list[tuple[int, float]] = []
    async with open_store(f"sqlite://{tmp_path}/events.db", max_batch=40) as opened:
        store = recorded(opened)
        store.writer.on_commit = lambda size, seconds: commits.append((size, seconds))
        async with trio.open_nursery() as nursery:
            for i in range(100):
                nursery.start_soon(store.append, [event(f"station/CP-{i % 3}", i)])
        stats = store.stats
        assert stats.events == 100 == sum(size for size, _ in commits)
        assert stats.batches == len(commits) < 100
        assert all(size <= 40 for size, _ in commits)
        assert stats.last_batch_size == commits[-1][0]
        assert (
            stats.commit_seconds == pytest.approx(sum(seconds for _, seconds in commits))
            and stats.commit_seconds > 0
        )


async def test_a_request_larger_than_max_batch_stays_atomic() -> None:
    sizes: list[int] = []
    async with open_store("memory://", max_batch=10) as opened:
        store = recorded(opened)
        store.writer.on_commit = lambda size, _: sizes.append(size)
        records = await store.append([event("site/depot", i) for i in range(25)])
        assert [r.sequence for r in records] == list(range(1, 26))
        assert sizes == [25]


async def test_a_lone_append_waits_at_most_max_delay(autojump_clock: trio.testing.MockClock) -> None:
    async with open_store("memory://", max_batch=5, max_delay=0.5) as store:
        started = trio.current_time()
        await store.append([event("station/CP-1", 1)])
        assert trio.current_time() - started == pytest.approx(0.5)


async def test_a_full_batch_commits_without_waiting(autojump_clock: trio.testing.MockClock) -> None:
    async with open_store("memory://", max_batch=5, max_delay=0.5) as store:
        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(store.append, [event("station/CP-1", i)])
        assert trio.current_time() - started < 0.5
        assert await store.head() == 5


async def test_an_append_cancelled_while_queued_is_withdrawn(autojump_clock: trio.testing.MockClock) -> None:
    async with open_store("memory://", max_delay=1.0) as store:
        with trio.move_on_after(0.5) as scope:
            await store.append([event("station/CP-1", 1)])
        assert scope.cancelled_caught
        records = await store.append([event("station/CP-1", 2)])
        assert [(r.sequence, r.position) for r in records] == [(1, 1)]
        assert [r.data["n"] for r in await store.read_all()] == [2]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deadlines=st.lists(st.integers(0, 6), min_size=5, max_size=30))
async def test_a_cancelled_append_either_happened_or_raised(
    tmp_path: pathlib.Path, deadlines: list[int]
) -> None:
    """Under random cancellation: stored == the appends that returned; the writer keeps working."""
    path = tmp_path / f"events-{next(EXAMPLES)}.db"
    returned: list[int] = []
    async with open_store(f"sqlite://{path}", max_delay=0.001) as store:

        async def append(i: int, deadline_ms: int) -> None:
            with trio.move_on_after(deadline_ms / 1000):
                await store.append([event(f"station/CP-{i % 2}", i)])
                returned.append(i)

        async with trio.open_nursery() as nursery:
            for i, deadline_ms in enumerate(deadlines):
                nursery.start_soon(append, i, deadline_ms)
        after = await store.append([event("station/CP-0", -1)])
        stored = await store.read_all()
        assert sorted(r.data["n"] for r in stored[:-1]) == sorted(returned)
        assert stored[-1] == after[0]
        for stream in ("station/CP-0", "station/CP-1"):
            assert [r.sequence for r in stored if r.stream == stream] == list(
                range(1, 1 + sum(r.stream == stream for r in stored))
            )


async def test_a_failed_commit_raises_in_every_waiter_and_the_writer_survives(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "events.db"
    async with open_store(f"sqlite://{path}", max_delay=0.05) as opened:
        store = recorded(opened)
        with sqlite3.connect(path) as db:  # SQLite itself will fail every insert: the table is missing
            db.execute(
                "CREATE TRIGGER sabotage BEFORE INSERT ON stored_events BEGIN DELETE FROM missing; END"
            )
        errors: list[Exception] = []

        async def append(i: int) -> None:
            try:
                await store.append([event(f"station/CP-{i}", i)])
            except CommitFailed as e:
                errors.append(e)

        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(append, i)
        assert len(errors) == 20
        assert all("no such table: main.missing" in str(e) and "nothing" in str(e) for e in errors)
        assert len({id(e) for e in errors}) == 20  # each waiter gets its own exception object
        assert await store.head() == 0
        assert store.stats.failed_commits >= 1
        with sqlite3.connect(path) as db:
            db.execute("DROP TRIGGER sabotage")
        records = await store.append([event("station/CP-0", 99)])
        assert (records[0].sequence, records[0].position) == (1, 1)


async def test_another_writers_rows_are_isolated_per_request(tmp_path: pathlib.Path) -> None:
    """Two stores on one file are two writers with their own head caches, as two processes would be."""
    url = f"sqlite://{tmp_path}/events.db"
    async with open_store(url, max_delay=0.05) as ours, open_store(url) as theirs:
        await ours.append([event("station/CP-1", 1)])  # our writer now caches head 1
        await theirs.append([event("station/CP-1", 2)])  # the file is at 2; our cache is stale
        outcomes: dict[str, list[EventRecord] | Exception] = {}

        async def attempt(name: str, events: list[NewEvent], expected: dict[str, int] | None) -> None:
            try:
                outcomes[name] = await ours.append(events, expected)
            except ConcurrencyConflict as e:
                outcomes[name] = e

        async with trio.open_nursery() as nursery:
            nursery.start_soon(attempt, "blind", [event("station/CP-1", 3)], None)
            nursery.start_soon(attempt, "stale", [event("station/CP-1", 4)], {"station/CP-1": 1})
            nursery.start_soon(attempt, "other", [event("meter/grid", 5)], None)
        blind, stale, other = outcomes["blind"], outcomes["stale"], outcomes["other"]
        assert isinstance(blind, list) and blind[0].sequence == 3
        assert isinstance(stale, ConcurrencyConflict) and stale.expected == 1 and stale.actual >= 2
        assert isinstance(other, list) and other[0].sequence == 1
        stream = await theirs.read_stream("station/CP-1")
        assert [(r.sequence, r.data["n"]) for r in stream] == [(1, 1), (2, 2), (3, 3)]


async def test_closing_drains_queued_appends_then_refuses_more(
    autojump_clock: trio.testing.MockClock,
) -> None:
    results: list[list[EventRecord]] = []

    async def append(store: RecordedStore, i: int) -> None:
        results.append(await store.append([event("station/CP-1", i)]))

    async with trio.open_nursery() as outer, open_store("memory://", max_delay=10.0) as opened:
        store = recorded(opened)
        for i in range(5):
            outer.start_soon(append, store, i)
        await trio.sleep(1.0)  # all five queued; the writer is still waiting for a fuller batch
        assert results == []
    assert sorted(r[0].sequence for r in results) == [1, 2, 3, 4, 5]
    with pytest.raises(StoreClosed):
        await store.append([event("station/CP-1", 6)])


async def test_a_cancelled_writer_fails_its_waiters_instead_of_hanging() -> None:
    log = open_log("memory://", 0.1)
    writer = BatchingWriter(log, max_delay=10.0)
    failures: list[Exception] = []

    async def append() -> None:
        try:
            await writer.append([event("station/CP-1", 1)])
        except StoreClosed as e:
            failures.append(e)

    async with trio.open_nursery() as appenders, trio.open_nursery() as writers:
        await writers.start(writer.run)
        appenders.start_soon(append)
        await trio.sleep(0.01)
        writers.cancel_scope.cancel()
    assert len(failures) == 1 and "closed before this append was committed" in str(failures[0])
    assert log.head() == 0


async def test_a_failing_commit_hook_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    def hook(size: int, seconds: float) -> None:
        raise RuntimeError("exporter is broken")

    async with open_store("memory://") as opened:
        store = recorded(opened)
        store.writer.on_commit = hook
        with caplog.at_level(logging.ERROR, logger="core.writer"):
            records = await store.append([event("station/CP-1", 1)])
        assert records[0].position == 1
        assert "on_commit hook failed" in caplog.text
        assert (await store.append([event("station/CP-1", 2)]))[0].sequence == 2


async def test_max_pending_bounds_the_queue(autojump_clock: trio.testing.MockClock) -> None:
    """With room for two queued requests, five appenders are committed two, two, one."""
    sizes: list[int] = []
    writer = BatchingWriter(
        open_log("memory://", 0.1), max_delay=1.0, max_pending=2, on_commit=lambda n, _: sizes.append(n)
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        async with trio.open_nursery() as appenders:
            for i in range(5):
                appenders.start_soon(writer.append, [event("station/CP-1", i)])
        writer.close()
    assert sizes == [2, 2, 1]
    assert writer.stats.events == 5 and writer.stats.batches == 3


async def test_conflicts_are_counted() -> None:
    async with open_store("memory://") as opened:
        store = recorded(opened)
        await store.append([event("station/CP-1", 1)], {"station/CP-1": 0})
        with pytest.raises(ConcurrencyConflict):
            await store.append([event("station/CP-1", 2)], {"station/CP-1": 0})
        assert store.stats.conflicts == 1 and store.stats.events == 1


def test_writer_settings_are_checked() -> None:
    log = open_log("memory://", 0.1)
    with pytest.raises(ValueError, match="max_batch"):
        BatchingWriter(log, max_batch=0)
