"""The in-memory window of recent commits serves only contiguous runs; everything else goes to the store."""

from __future__ import annotations

from datetime import UTC, datetime

import trio
import trio.testing

from adapters.stores import open_store
from core.events import EventRecord, NewEvent
from core.follow import CommitSignal, Follower, RecentCommits
from core.store import ReadFailed

T0 = datetime(2026, 11, 21, tzinfo=UTC)


def rec(position: int) -> EventRecord:
    return EventRecord("station/a", position, position, "E", T0, {})


def test_contiguous_runs_only_and_bounded() -> None:
    recent = RecentCommits(keep=5)
    recent.add([rec(p) for p in (1, 2, 3, 5, 6)])  # 4 was written by someone else
    assert [r.position for r in recent.after(0, 10)] == [1, 2, 3]
    assert recent.after(3, 10) == [], "a gap: the follower must read 4 from the store"
    assert [r.position for r in recent.after(4, 10)] == [5, 6]
    assert [r.position for r in recent.after(0, 2)] == [1, 2]
    recent.add([rec(7), rec(8)])
    assert recent.after(0, 10) == [], "1 and 2 were evicted"
    assert [r.position for r in recent.after(4, 10)] == [5, 6, 7, 8]


async def test_a_follower_far_behind_the_window_still_sees_everything_in_order() -> None:
    async with open_store("memory://") as store:
        store.writer.recent = RecentCommits(keep=3)  # type: ignore[attr-defined]
        for i in range(20):
            await store.append([NewEvent("station/a", "E", {"i": i}, T0)])
        seen = []
        with trio.move_on_after(1):
            async for record in store.follow(0):
                seen.append(record.data["i"])
                if len(seen) == 20:
                    break
        assert seen == list(range(20))


async def test_a_caught_up_follower_waits_for_the_pulse_without_reading_the_store() -> None:
    recent, signal, reads = RecentCommits(), CommitSignal(), []

    async def read_all(after: int, limit: int) -> list[EventRecord]:
        reads.append(after)
        await trio.lowlevel.checkpoint()
        return []

    recent.add([rec(1), rec(2)])
    follower = Follower(read_all, signal, after=0, recent=recent)
    assert [r.position for r in await follower.next_batch()] == [1, 2]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(follower.next_batch)
        await trio.testing.wait_all_tasks_blocked()
        recent.add([rec(3)])
        signal.pulse()
    assert follower.position == 3 and reads == []


async def test_a_poll_still_reads_the_store_for_other_processes_commits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recent, signal, reads = RecentCommits(), CommitSignal(), []
    recent.add([rec(1)])

    async def read_all(after: int, limit: int) -> list[EventRecord]:
        reads.append(after)
        await trio.lowlevel.checkpoint()
        return [rec(2)] if len(reads) > 1 else []  # another process commits 2 between the polls

    follower = Follower(read_all, signal, after=1, poll_interval=1.0, recent=recent)
    assert [r.position for r in await follower.next_batch()] == [2]
    assert reads == [1, 1]  # both after a poll timeout, none while at the in-process head


async def test_a_read_that_could_not_reach_the_store_is_tried_again() -> None:
    """A database restart delays a follower; it does not end it (nor skip anything)."""
    failures = [ReadFailed("connection lost"), ReadFailed("no connection to be had")]

    async def read_all(after: int, limit: int) -> list[EventRecord]:
        await trio.lowlevel.checkpoint()
        if failures:
            raise failures.pop(0)
        return [rec(after + 1), rec(after + 2)]

    follower = Follower(read_all, CommitSignal(), after=4)
    assert [r.position for r in await follower.next_batch()] == [5, 6]
    assert failures == []
