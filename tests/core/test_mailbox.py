"""Mailbox overflow policies: every message is delivered, refused to its sender, or a counted dead letter."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dead_letters import DeadLetters, Reason
from core.mailbox import Mailbox, MailboxClosed, Overflow

ops = st.lists(st.sampled_from(["put", "get"]), max_size=60)


def drain(box: Mailbox[int]) -> list[int]:
    out = []
    while box.depth:
        out.append(box._queue.popleft())
    return out


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(1, 5), script=ops, policy=st.sampled_from(list(Overflow)))
def test_no_message_is_silently_lost(capacity: int, script: list[str], policy: Overflow) -> None:
    """Run a put/get script against a model queue: delivered + dead + refused == sent, in order."""
    letters = DeadLetters()
    box: Mailbox[int] = Mailbox(capacity, policy, kind="k", name="n", dead_letters=letters)
    model: list[int] = []
    delivered: list[int] = []
    refused: list[int] = []
    dead: list[int] = []
    sent = 0
    for op in script:
        if op == "put":
            msg = sent
            sent += 1
            queued = box.put_nowait(msg)
            if len(model) < capacity:
                assert queued
                model.append(msg)
            elif policy is Overflow.DROP_OLDEST:
                assert queued
                dead.append(model.pop(0))
                model.append(msg)
            elif policy is Overflow.DEAD_LETTER:
                assert not queued
                dead.append(msg)
            else:
                assert not queued
                refused.append(msg)
        elif model:
            expected = model.pop(0)
            got = box._queue.popleft()
            assert got == expected
            delivered.append(got)
        assert box.depth == len(model) <= capacity
    delivered += drain(box)
    assert [d.message for d in letters.recent] == dead[-100:]
    assert letters.total() == len(dead)
    assert sorted(delivered + dead + refused) == list(range(sent))
    if policy is Overflow.BLOCK:
        assert letters.total() == 0


async def test_block_policy_waits_for_room() -> None:
    box: Mailbox[str] = Mailbox(1, Overflow.BLOCK, kind="k", name="n", dead_letters=DeadLetters())
    await box.put("a")
    order: list[str] = []

    async def late_writer() -> None:
        await box.put("b")
        order.append("b queued")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(late_writer)
        await trio.testing.wait_all_tasks_blocked()
        assert order == [] and box.depth == 1
        assert await box.get() == "a"
        order.append("a taken")
    assert order == ["a taken", "b queued"]
    assert await box.get() == "b"


async def test_put_without_schedule_point_runs_no_other_task_yet_waits_for_room_and_cancels() -> None:
    box: Mailbox[str] = Mailbox(1, Overflow.BLOCK, kind="k", name="n", dead_letters=DeadLetters())
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        assert await box.put("a", schedule_point=False)
        assert ran == []  # there was room: nothing else was scheduled
        with trio.move_on_after(0.05) as waited:  # full: it waits for room like put
            await box.put("b", schedule_point=False)
        assert waited.cancelled_caught and box.depth == 1
    assert ran == ["other"]
    assert await box.get() == "a"
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):  # still a cancellation point, though there is room
            await box.put("c", schedule_point=False)
    assert box.depth == 0


async def test_close_dead_letters_the_queue_and_wakes_readers() -> None:
    letters = DeadLetters()
    box: Mailbox[str] = Mailbox(4, Overflow.BLOCK, kind="station", name="s1", dead_letters=letters)
    box.put_nowait("x")
    box.put_nowait("y")
    box.close()
    assert letters.counts[("station", Reason.STOPPED)] == 2
    with pytest.raises(MailboxClosed, match="station s1 has stopped"):
        await box.get()
    assert not box.put_nowait("z")
    assert letters.counts[("station", Reason.STOPPED)] == 3


async def test_blocked_writer_is_released_by_close() -> None:
    letters = DeadLetters()
    box: Mailbox[str] = Mailbox(1, Overflow.BLOCK, kind="k", name="n", dead_letters=letters)
    box.put_nowait("a")
    results: list[bool] = []

    async def writer() -> None:
        results.append(await box.put("b"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        box.close()
    assert results == [False]
    assert letters.total() == 2


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Mailbox(0, Overflow.BLOCK, kind="k", name="n", dead_letters=DeadLetters())
