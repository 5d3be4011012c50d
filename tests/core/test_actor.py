"""ActorRef send/try_send/ask against real actors under a supervisor."""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass

import pytest
import trio
import trio.testing

from core.actor import Actor, ActorBusy, ActorStopped, AskTimeout, Reply
from core.dead_letters import DeadLetters, Reason
from core.mailbox import Overflow
from core.supervisor import ChildSpec, Runtime, open_supervisor


@dataclass(frozen=True)
class Add:
    n: int


@dataclass(frozen=True)
class Get:
    reply: Reply[int]


@dataclass(frozen=True)
class Boom:
    reply: Reply[int]


@dataclass(frozen=True)
class Slow:
    seconds: float
    reply: Reply[int]


Msg = Add | Get | Boom | Slow


class Counter(Actor[Msg]):
    def __init__(self) -> None:
        self.total = 0

    async def receive(self, message: Msg) -> None:
        match message:
            case Add(n):
                self.total += n
            case Get(reply):
                reply.send(self.total)
            case Boom(reply):
                reply.fail(ValueError("asked to fail"))
            case Slow(seconds, reply):
                await trio.sleep(seconds)
                reply.send(self.total)


def spec(**kw: object) -> ChildSpec[Msg]:
    return ChildSpec(id="c1", factory=Counter, kind="counter", **kw)  # type: ignore[arg-type]


async def test_send_then_ask_sees_messages_in_order() -> None:
    async with open_supervisor("root") as sup:
        ref = sup.start_child(spec())
        for i in range(10):
            await ref.send(Add(i))
        assert await ref.ask(Get, timeout=1) == 45
        assert ref.try_send(Add(5))
        assert await ref.ask(Get, timeout=1) == 50


async def test_ask_relays_a_failure() -> None:
    async with open_supervisor("root") as sup:
        ref = sup.start_child(spec())
        with pytest.raises(ValueError, match="asked to fail"):
            await ref.ask(Boom, timeout=1)


async def test_ask_timeout_and_the_late_reply_is_a_dead_letter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runtime = Runtime()
    async with open_supervisor("root", runtime) as sup:
        ref = sup.start_child(spec())
        with pytest.raises(AskTimeout, match="counter c1 did not answer Slow within 1"):
            await ref.ask(lambda r: Slow(5.0, r), timeout=1)
        # The actor still answers after 5 s: the answer must be counted, not vanish.
        assert await ref.ask(Get, timeout=10) == 0
        assert runtime.dead_letters.counts[("counter", Reason.LATE_REPLY)] == 1


async def test_ask_a_stopped_actor_fails_fast() -> None:
    async with open_supervisor("root") as sup:
        ref = sup.start_child(spec())
        await sup.stop_child("c1")
        assert not ref.alive
        with pytest.raises(ActorStopped):
            await ref.ask(Get, timeout=1)


async def test_ask_a_full_dead_letter_mailbox_fails_fast(autojump_clock: trio.testing.MockClock) -> None:
    runtime = Runtime()
    async with open_supervisor("root", runtime) as sup:
        ref = sup.start_child(spec(capacity=1, overflow=Overflow.DEAD_LETTER))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ref.ask, lambda r: Slow(1.0, r), 5)  # occupies the actor
            await trio.testing.wait_all_tasks_blocked()
            assert ref.try_send(Add(1))  # fills the one slot
            with pytest.raises(ActorBusy):
                await ref.ask(Get, timeout=5)
        assert runtime.dead_letters.counts[("counter", Reason.FULL)] == 1


class _Failed(Exception):
    """An error a reply carries (a Python subclass, so it can be weakly referenced)."""


async def test_a_reply_lets_go_of_its_error_once_raised() -> None:
    """A Reply kept alive (a dead letter, a queued message) must not keep the error and its traceback's
    frames, and their locals, alive: a 900 KB command payload among them in the slow-reader flood."""
    reply: Reply[int] = Reply(DeadLetters(), "kind", "name")
    error = _Failed("no")
    watch = weakref.ref(error)
    reply.fail(error)
    del error
    gc.disable()  # reference counting alone must free it: no cycle through the frames
    try:
        with pytest.raises(_Failed):
            await reply._wait()
        assert watch() is None, "the reply (or a frame it reaches) still holds the error"
    finally:
        gc.enable()
