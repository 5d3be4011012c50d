"""The EventStore contract: every backend in conftest.BACKENDS (memory, SQLite, PostgreSQL) passes all
of it, and the backends whose log outlives the process (conftest.DURABLE) what matters across
processes: a thousand concurrent appenders, a follower seeing another process's commits, kill -9 of
a writer, two writers on one log.

Then the SQLite specifics: damage on disk and paths that cannot be opened. The PostgreSQL specifics
are in test_postgres_store.py.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import trio
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.stores import open_store, recording
from adapters.stores.recording import stream_uuid
from adapters.stores.sqlite import sqlite_path
from core.codec import pack
from core.events import EventRecord, NewEvent
from core.store import ConcurrencyConflict, CorruptEvent, EventStore, StoreUnavailable
from core.writer import MAX_RUN

ROOT = pathlib.Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
STREAMS = ["station/CP-1", "station/CP-2", "meter/grid", "site/depot"]
fresh = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def event(stream: str, n: int, type: str = "Sampled") -> NewEvent:
    return NewEvent(stream, type, {"n": n, "at": T0 + timedelta(seconds=n)}, T0 + timedelta(seconds=n))


async def everything(store: EventStore) -> list[EventRecord]:
    records: list[EventRecord] = []
    while page := await store.read_all(after=records[-1].position if records else 0, limit=7):
        records.extend(page)
    return records


def assert_well_ordered(records: list[EventRecord]) -> None:
    assert [r.position for r in records] == list(range(1, len(records) + 1))
    for stream in {r.stream for r in records}:
        sequences = [r.sequence for r in records if r.stream == stream]
        assert sequences == list(range(1, len(sequences) + 1))


# --- the contract ---------------------------------------------------------------------------------


async def test_append_returns_committed_records_in_order(store_url: str) -> None:
    async with open_store(store_url) as store:
        assert await store.head() == 0
        first = await store.append([event("station/CP-1", 1), event("meter/grid", 2)])
        second = await store.append([event("station/CP-1", 3)])
        assert [(r.stream, r.sequence, r.position) for r in first + second] == [
            ("station/CP-1", 1, 1),
            ("meter/grid", 1, 2),
            ("station/CP-1", 2, 3),
        ]
        assert await store.head() == 3
        assert await store.stream_version("station/CP-1") == 2
        assert await store.stream_version("site/none") == 0
        stream = await store.read_stream("station/CP-1")
        assert stream == [first[0], second[0]]
        assert stream[0].data == {"n": 1, "at": T0 + timedelta(seconds=1)}
        assert stream[0].time == T0 + timedelta(seconds=1) and stream[0].type == "Sampled"
        assert await store.read_stream("station/CP-1", after=1) == second
        assert await store.read_stream("station/CP-1", limit=1) == [first[0]]
        assert await store.read_all() == first + second
        assert await store.read_all(after=1, limit=1) == [first[1]]
        assert await store.read_all(after=3) == []


async def test_expectations_guard_streams_and_conflicts_append_nothing(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.append([event("station/CP-1", 1)], expected={"station/CP-1": 0})
        with pytest.raises(ConcurrencyConflict) as conflict:
            await store.append(
                [event("station/CP-1", 2), event("meter/grid", 3)], expected={"station/CP-1": 0}
            )
        assert (conflict.value.stream, conflict.value.expected, conflict.value.actual) == (
            "station/CP-1",
            0,
            1,
        )
        assert "station/CP-1" in str(conflict.value) and "expected 0" in str(conflict.value)
        assert await store.head() == 1
        assert await store.stream_version("meter/grid") == 0
        with pytest.raises(ConcurrencyConflict):
            await store.append([event("meter/grid", 4)], expected={"station/CP-1": 5})
        ok = await store.append([event("station/CP-1", 5)], expected={"station/CP-1": 1, "meter/grid": 0})
        assert [(r.sequence, r.position) for r in ok] == [(2, 2)]


async def test_one_conflict_fails_only_its_own_request(store_url: str) -> None:
    async with open_store(store_url, max_delay=0.05) as store:
        await store.append([event("station/CP-1", 0)])
        outcomes: dict[str, object] = {}

        async def attempt(name: str, expected: int) -> None:
            try:
                outcomes[name] = await store.append(
                    [event("station/CP-1", expected)], {"station/CP-1": expected}
                )
            except ConcurrencyConflict as e:
                outcomes[name] = e

        async with trio.open_nursery() as nursery:
            nursery.start_soon(attempt, "stale", 0)
            nursery.start_soon(attempt, "first", 1)
            nursery.start_soon(attempt, "second", 1)
        assert isinstance(outcomes["stale"], ConcurrencyConflict) and outcomes["stale"].actual >= 1
        # Trio does not promise which of the two equal requests queues first; exactly one wins.
        pair = [outcomes["first"], outcomes["second"]]
        won = [outcome for outcome in pair if isinstance(outcome, list)]
        lost = [outcome for outcome in pair if isinstance(outcome, ConcurrencyConflict)]
        assert len(won) == 1 and len(lost) == 1
        assert lost[0].actual == 2 and lost[0].expected == 1
        assert [r.sequence for r in await store.read_stream("station/CP-1")] == [1, 2]
        assert await store.head() == 2


async def test_bad_input_is_refused_clearly_and_loses_nothing(store_url: str) -> None:
    with pytest.raises(TypeError, match="tz-aware"):
        NewEvent("station/CP-1", "Booted", {}, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="<kind>/<id>"):
        NewEvent("CP-1", "Booted", {}, T0)
    with pytest.raises(ValueError, match="type"):
        NewEvent("station/CP-1", "", {}, T0)
    async with open_store(store_url) as store:
        good = await store.append([event("station/CP-1", 1)])
        with pytest.raises(TypeError, match="set"):
            await store.append([event("station/CP-1", 2), NewEvent("station/CP-1", "Bad", {"x": {1}}, T0)])
        with pytest.raises(ValueError, match="expected version"):
            await store.append([event("station/CP-1", 3)], expected={"station/CP-1": -1})
        with pytest.raises(ValueError, match="<kind>/<id>"):
            await store.append([event("station/CP-1", 3)], expected={"nope": 1})
        with pytest.raises(TypeError, match="NewEvent"):
            await store.append([{"stream": "station/CP-1"}])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="limit"):
            await store.read_all(limit=0)
        with pytest.raises(ValueError, match="after"):
            await store.read_stream("station/CP-1", after=-1)
        assert await store.append([]) == []
        assert await store.read_all() == good
        after = await store.append([event("station/CP-1", 4)])
        assert after[0].sequence == 2


async def test_unknown_schemes_and_malformed_urls_name_the_problem() -> None:
    with pytest.raises(ValueError, match="known schemes: memory, postgres, postgresql, sqlite"):
        async with open_store("mysql://localhost/events"):
            pass
    with pytest.raises(ValueError, match="memory://"):
        async with open_store("memory://elsewhere"):
            pass
    with pytest.raises(ValueError, match="unknown sqlite URL options"):
        async with open_store("sqlite:///tmp/x.db?fast=1"):
            pass


async def test_an_error_in_the_block_comes_out_as_itself_after_the_writer_drained(store_url: str) -> None:
    with pytest.raises(KeyError, match="caller's own"):
        async with open_store(store_url) as store:
            await store.append([event("station/CP-1", 1)])
            raise KeyError("caller's own")
    if not store_url.startswith("memory"):
        async with open_store(store_url) as reopened:
            assert await reopened.head() == 1


async def test_store_settings_are_checked(store_url: str) -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        async with open_store(store_url, poll_interval=0):
            pass
    with pytest.raises(ValueError, match="max_batch"):
        async with open_store(store_url, max_batch=0):
            pass


def test_sqlite_urls_resolve_to_absolute_paths() -> None:
    assert sqlite_path("sqlite:///var/lib/cw/events.db") == ("/var/lib/cw/events.db", {})
    assert sqlite_path("sqlite:events.db") == (os.path.join(os.getcwd(), "events.db"), {})
    assert sqlite_path("sqlite:///a.db?lock_timeout=2") == ("/a.db", {"lock_timeout": "2"})
    assert sqlite_path("sqlite:////srv/events.db") == ("/srv/events.db", {})
    for bad in ["sqlite://host/a.db", "sqlite:///", "sqlite:///:memory:"]:
        with pytest.raises(ValueError):
            sqlite_path(bad)


# --- properties -----------------------------------------------------------------------------------

batches = st.lists(st.lists(st.sampled_from(STREAMS), min_size=1, max_size=5), min_size=1, max_size=12)


@fresh
@given(batches=batches, delays=st.lists(st.integers(0, 3), min_size=12, max_size=12))
async def test_concurrent_interleavings_keep_the_log_well_ordered(
    new_store_url: Callable[[], str], batches: list[list[str]], delays: list[int]
) -> None:
    async with open_store(new_store_url(), max_batch=8) as store:
        returned: list[EventRecord] = []

        async def appender(i: int, streams: list[str]) -> None:
            for _ in range(delays[i]):
                await trio.lowlevel.checkpoint()
            returned.extend(await store.append([event(s, i) for s in streams]))

        async with trio.open_nursery() as nursery:
            for i, streams in enumerate(batches):
                nursery.start_soon(appender, i, streams)
        stored = await everything(store)
        assert_well_ordered(stored)
        assert sorted(returned, key=lambda r: r.position) == stored
        for stream in STREAMS:
            assert await store.read_stream(stream) == [r for r in stored if r.stream == stream]
            assert await store.stream_version(stream) == sum(b.count(stream) for b in batches)


@fresh
@given(st.lists(st.tuples(st.sampled_from(STREAMS[:2]), st.integers(-1, 1)), min_size=1, max_size=20))
async def test_conflicting_appends_leave_no_trace(
    new_store_url: Callable[[], str], ops: list[tuple[str, int]]
) -> None:
    """Each op appends two events under an expectation that is right (0) or stale (+-1)."""
    model: dict[str, int] = dict.fromkeys(STREAMS[:2], 0)
    log: list[tuple[str, int]] = []
    async with open_store(new_store_url()) as store:
        for n, (stream, skew) in enumerate(ops):
            expected = max(model[stream] + skew, 0)
            batch = [event(stream, n), event("site/depot", n)]
            if expected == model[stream]:
                await store.append(batch, {stream: expected})
                model[stream] += 1
                log += [(stream, n), ("site/depot", n)]
            else:
                with pytest.raises(ConcurrencyConflict):
                    await store.append(batch, {stream: expected})
        stored = await everything(store)
        assert [(r.stream, r.data["n"]) for r in stored] == log
        assert_well_ordered(stored)


@fresh
@given(batches=batches, start=st.integers(0, 3), takes=st.lists(st.booleans(), min_size=1, max_size=6))
async def test_a_follower_sees_every_event_once_in_order_while_appends_run(
    new_store_url: Callable[[], str], batches: list[list[str]], start: int, takes: list[bool]
) -> None:
    """Whether it is read record by record, by ``next_batch`` (``takes``, cycled), or both mixed."""
    total = sum(len(b) for b in batches)
    start = min(start, total - 1)
    async with open_store(new_store_url(), max_batch=4) as store:
        seen: list[int] = []

        async def follow() -> None:
            follower = store.follow(after=start)
            for batched in itertools.cycle(takes):
                if batched:
                    taken = await follower.next_batch()
                    assert taken and follower.position == taken[-1].position
                    seen.extend(record.position for record in taken)
                else:
                    seen.append((await follower.__anext__()).position)
                if seen[-1] == total:
                    return

        async def append(i: int, streams: list[str]) -> None:
            await store.append([event(s, i) for s in streams])

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow)
                for i, streams in enumerate(batches):
                    nursery.start_soon(append, i, streams)
        assert seen == list(range(start + 1, total + 1))


async def test_a_follower_wakes_on_commit_without_waiting_for_a_poll(store_url: str) -> None:
    async with open_store(store_url, poll_interval=3600) as store:
        await store.append([event("station/CP-1", 1)])
        follower = store.follow()
        assert (await follower.__anext__()).position == 1
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.append, [event("station/CP-1", 2)])
            with trio.fail_after(5):
                assert (await follower.__anext__()).position == 2


async def test_pages_go_on_over_rows_longer_than_the_reader_expects(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """read_all asks only for rows up to a bound that assumes at most MAX_RUN events a row; a row
    beyond it (more events than the reader assumes) still comes, so a follower never stalls."""
    monkeypatch.setattr(recording, "MAX_RUN", 1)
    async with open_store(store_url) as store:
        written = await store.append([event("station/CP-1", n) for n in range(40)])
        read: list[EventRecord] = []
        while page := await store.read_all(after=read[-1].position if read else 0, limit=5):
            read.extend(page)
        assert read == written


async def test_runs_of_one_stream_read_back_event_by_event(store_url: str) -> None:
    """An append stores consecutive events of one stream as one row (a run); no read can tell."""
    long = [event("station/CP-1", n) for n in range(MAX_RUN * 2 + 3)]  # cut into three rows
    same_time = [NewEvent("station/CP-2", f"T{n}", {"n": n}, T0) for n in range(3)]
    async with open_store(store_url) as store:
        first = await store.append([*long, *same_time, event("station/CP-1", 99)])
        assert [(r.stream, r.sequence, r.position) for r in first] == (
            [("station/CP-1", n, n) for n in range(1, len(long) + 1)]
            + [("station/CP-2", n, len(long) + n) for n in range(1, 4)]
            + [("station/CP-1", len(long) + 1, len(long) + 4)]
        )
        assert [r.time for r in first[:3]] == [T0 + timedelta(seconds=n) for n in range(3)]
        assert all(r.time == T0 and r.time.utcoffset() == timedelta(0) for r in first[len(long) : -1])
        assert await store.head() == len(first)
        assert await store.stream_version("station/CP-1") == len(long) + 1
        assert await store.stream_version("station/CP-2") == 3
        assert await everything(store) == first
        for after in range(len(first) + 1):
            assert await store.read_all(after=after, limit=5) == first[after : after + 5]
        cp1 = [r for r in first if r.stream == "station/CP-1"]
        for after in range(len(cp1) + 1):
            assert await store.read_stream("station/CP-1", after=after) == cp1[after:]
            assert await store.read_stream("station/CP-1", after=after, limit=2) == cp1[after : after + 2]
        assert await store.read_stream("station/CP-1", after=2**63 - 1) == []  # the largest sequence kept
        follower = store.follow(after=MAX_RUN + 1)
        assert (await follower.__anext__()).position == MAX_RUN + 2
        # A version inside a run is as stale as any other.
        with pytest.raises(ConcurrencyConflict):
            await store.append([event("station/CP-2", 0)], {"station/CP-2": 2})
        [after_runs] = await store.append([event("station/CP-2", 0)], {"station/CP-2": 3})
        assert (after_runs.sequence, after_runs.position) == (4, len(first) + 1)


# --- across processes: the backends whose log outlives the process --------------------------------


async def test_a_thousand_concurrent_appenders_are_all_durable(durable_store_url: str) -> None:
    url = durable_store_url
    async with open_store(url) as store, trio.open_nursery() as nursery:
        for i in range(1000):
            nursery.start_soon(store.append, [event(f"station/CP-{i % 10}", i)])
    async with open_store(url) as reopened:
        stored = await everything(reopened)
        assert sorted(r.data["n"] for r in stored) == list(range(1000))
        assert_well_ordered(stored)
        for k in range(10):
            assert await reopened.stream_version(f"station/CP-{k}") == 100


STRANGER = """
import sys, trio
from datetime import UTC, datetime
from core.events import NewEvent
from adapters.stores import open_store

async def main():
    async with open_store(sys.argv[1]) as store:
        for i in range(5):
            await store.append([NewEvent("node/stranger", "Hello", {"i": i}, datetime.now(UTC))])

trio.run(main)
"""


async def test_followers_see_commits_made_by_another_process(durable_store_url: str) -> None:
    url = durable_store_url
    async with open_store(url, poll_interval=0.02) as store:
        await store.append([event("station/CP-1", 1)])
        seen: list[EventRecord] = []

        async def follow() -> None:
            async for record in store.follow():
                seen.append(record)
                if len(seen) == 6:
                    return

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow)
                await trio.run_process([sys.executable, "-c", STRANGER, url], cwd=ROOT)
        assert [r.stream for r in seen] == ["station/CP-1"] + ["node/stranger"] * 5
        assert [r.data["i"] for r in seen[1:]] == list(range(5))
        assert_well_ordered(seen)


ACKNOWLEDGER = """
import sys, trio
from datetime import UTC, datetime
from core.events import NewEvent
from adapters.stores import open_store

async def main():
    async with open_store(sys.argv[1]) as store:
        async def appender(k):
            for i in range(10**6):
                tick = NewEvent(f"station/CP-{k}", "Tick", {"i": i}, datetime.now(UTC))
                [record] = await store.append([tick])
                print(record.position, record.stream, record.sequence, i, flush=True)
        async with trio.open_nursery() as nursery:
            for k in range(20):
                nursery.start_soon(appender, k)

trio.run(main)
"""


async def test_a_kill_9_loses_no_acknowledged_event(durable_store_url: str) -> None:
    url = durable_store_url
    acknowledged: list[tuple[int, str, int, int]] = []
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", ACKNOWLEDGER, url], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        buffer = b""
        with trio.fail_after(30):
            while len(acknowledged) < 300:
                chunk = await process.stdout.receive_some()
                assert chunk, "the appending process exited early"
                *lines, buffer = (buffer + chunk).split(b"\n")
                for line in lines:
                    position, stream, sequence, i = line.split()
                    acknowledged.append((int(position), stream.decode(), int(sequence), int(i)))
    finally:
        process.kill()  # SIGKILL: no cleanup, no final checkpoint of the WAL
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    async with open_store(url) as reopened:
        stored = {(r.position, r.stream, r.sequence, r.data["i"]) for r in await everything(reopened)}
        assert set(acknowledged) <= stored
        assert_well_ordered(sorted(await everything(reopened), key=lambda r: r.position))


async def test_two_stores_on_one_log_collide_on_the_first_sequence_of_a_run(durable_store_url: str) -> None:
    """A writer with a stale head hits the other's run at its first sequence and retries with fresh heads."""
    url = durable_store_url
    async with open_store(url) as a, open_store(url) as b:
        await b.append([event("station/CP-1", 1)])  # b now believes the stream is at 1
        await a.append([event("station/CP-1", n) for n in (2, 3, 4)])
        late = await b.append([event("station/CP-1", n) for n in (5, 6)])
        assert [r.sequence for r in late] == [5, 6]
        stored = await everything(a)
        assert_well_ordered(stored)
        assert [r.data["n"] for r in stored] == [1, 2, 3, 4, 5, 6]


# --- SQLite specifics -----------------------------------------------------------------------------


async def test_a_corrupted_row_is_reported_with_its_position(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "events.db"
    async with open_store(f"sqlite://{path}") as store:
        for n in range(5):  # one row each
            await store.append([event("station/CP-1", n)])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = 3", (b"\xc1garbage",))
    async with open_store(f"sqlite://{path}") as store:
        with pytest.raises(CorruptEvent, match="position 3") as corrupt:
            await store.read_all()
        assert corrupt.value.position == 3
        assert len(await store.read_all(limit=2)) == 2
        with pytest.raises(CorruptEvent, match="position 3"):
            await store.read_stream("station/CP-1")
        follower = store.follow(after=2)
        with pytest.raises(CorruptEvent, match="position 3"):
            await follower.__anext__()
        assert [r.position for r in await store.read_all(after=3)] == [4, 5]


async def test_an_unopenable_path_is_store_unavailable_naming_it(tmp_path: pathlib.Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("plain file")
    with pytest.raises(StoreUnavailable, match=str(not_a_dir / "events.db")) as unavailable:
        async with open_store(f"sqlite://{not_a_dir}/events.db"):
            pass
    assert unavailable.value.location == str(not_a_dir / "events.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreUnavailable, match=str(garbage)):
        async with open_store(f"sqlite://{garbage}"):
            pass
    assert garbage.read_bytes() == b"this is not a database" * 100


async def test_a_file_locked_by_another_process_is_store_unavailable(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # a rollback-journal file held exclusively: cannot go WAL
        with pytest.raises(StoreUnavailable, match=f"{path}.*locked"):
            async with open_store(f"sqlite://{path}?lock_timeout=1"):
                pass
    finally:
        holder.close()


async def test_the_file_is_in_wal_mode(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "events.db"
    async with open_store(f"sqlite://{path}") as store:
        await store.append([event("station/CP-1", 1)])
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_sqlite_stores_one_row_per_run(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "events.db"
    async with open_store(f"sqlite://{path}") as store:
        exchange = [event("station/CP-1", 1, "FrameReceived"), event("station/CP-1", 1, "MeterSampled")]
        await store.append([*exchange, event("station/CP-1", 1, "FrameSent"), event("meter/grid", 2)])
        await store.append([event("station/CP-1", 3)])
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT rowid, originator_version, topic FROM stored_events ORDER BY rowid"
        ).fetchall()
    # rowid: the position of the run's last event; version: the sequence of its first.
    assert rows == [(3, 1, "FrameReceived,MeterSampled,FrameSent"), (4, 1, "Sampled"), (5, 4, "Sampled")]


async def test_a_log_written_one_event_per_row_reads_and_grows(tmp_path: pathlib.Path) -> None:
    """Rows as every build before runs wrote them (the library's plain recorder), then runs after them."""
    path = tmp_path / "events.db"
    factory = InfrastructureFactory.construct(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    )
    old = [event("station/CP-1", 1), event("meter/grid", 2), event("station/CP-1", 3)]
    try:
        factory.application_recorder().insert_events(
            [
                StoredEvent(
                    stream_uuid(e.stream),
                    seq,
                    e.type,
                    pack({"stream": e.stream, "time": e.time, "data": e.data}),
                )
                for e, seq in zip(old, [1, 1, 2], strict=True)
            ]
        )
    finally:
        factory.close()
    async with open_store(f"sqlite://{path}") as store:
        assert [(r.stream, r.sequence, r.position, r.data) for r in await store.read_all()] == [
            (e.stream, seq, pos, e.data) for e, seq, pos in zip(old, [1, 1, 2], [1, 2, 3], strict=True)
        ]
        assert await store.stream_version("station/CP-1") == 2
        new = await store.append([event("station/CP-1", 4), event("station/CP-1", 5)], {"station/CP-1": 2})
        assert [(r.sequence, r.position) for r in new] == [(3, 4), (4, 5)]
        stored = await everything(store)
        assert_well_ordered(stored)
        assert await store.read_stream("station/CP-1", after=1) == [stored[2], *new]


async def test_a_corrupted_run_is_reported_at_its_last_position(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "events.db"
    async with open_store(f"sqlite://{path}") as store:
        await store.append([event("station/CP-1", 1)])
        await store.append([event("station/CP-1", n) for n in (2, 3, 4)])
        await store.append([event("station/CP-1", 5)])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = 4", (b"\xc1garbage",))
    async with open_store(f"sqlite://{path}") as store:
        with pytest.raises(CorruptEvent, match="position 4"):
            await store.read_all()
        assert [r.position for r in await store.read_all(limit=1)] == [1]
        assert [r.position for r in await store.read_all(after=4)] == [5]


async def test_the_committer_runs_this_build_wherever_the_server_was_started(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started in another checkout, the committer child must not pick up that checkout's committer."""
    decoy = tmp_path / "checkout" / "adapters" / "stores"
    decoy.mkdir(parents=True)
    for package in (decoy.parent, decoy):
        (package / "__init__.py").write_text("")
    (decoy / "sqlite_committer.py").write_text("raise SystemExit('the decoy committer ran')\n")
    monkeypatch.chdir(tmp_path / "checkout")
    async with open_store(f"sqlite://{tmp_path}/events.db") as store:
        [record] = await store.append([event("station/CP-1", 1)])
        assert record.position == 1
