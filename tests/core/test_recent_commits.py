"""The in-memory window of recent commits serves only contiguous runs; everything else goes to the store."""

from __future__ import annotations

from datetime import UTC, datetime

import trio

from adapters.stores import open_store
from core.events import EventRecord, NewEvent
from core.follow import RecentCommits

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
