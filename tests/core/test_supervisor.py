"""Supervisors: restart types, strategies, intensity and period, backoff, stop through cancel scopes.

Runs under trio's MockClock (pytest-trio's ``autojump_clock``) so restart windows are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from core.actor import Actor, ActorRef, Reply
from core.dead_letters import Reason
from core.mailbox import Mailbox
from core.supervisor import (
    Backoff,
    ChildSpec,
    DuplicateChild,
    Escalation,
    Restart,
    Runtime,
    Strategy,
    Supervisor,
    open_supervisor,
)


@dataclass(frozen=True)
class Crash:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Ping:
    reply: Reply[int]


Msg = Crash | Quit | Ping


@dataclass
class Births:
    """How many incarnations each child has had."""

    count: dict[str, int] = field(default_factory=dict)

    def factory(self, name: str) -> Callable[[], Actor[Msg]]:
        def make() -> Actor[Msg]:
            self.count[name] = self.count.get(name, 0) + 1
            return Worker(self.count[name])

        return make


class Worker(Actor[Msg]):
    def __init__(self, incarnation: int) -> None:
        self.incarnation = incarnation

    async def run(self, inbox: Mailbox[Msg]) -> None:
        while True:
            match await inbox.get():
                case Crash():
                    raise RuntimeError("crash requested")
                case Quit():
                    return
                case Ping(reply):
                    reply.send(self.incarnation)


def child(births: Births, name: str, restart: Restart = Restart.PERMANENT) -> ChildSpec[Msg]:
    return ChildSpec(id=name, factory=births.factory(name), kind="worker", restart=restart)


async def test_one_for_one_restarts_only_the_crashed_child_and_its_ref_stays_valid() -> None:
    births = Births()
    runtime = Runtime()
    async with open_supervisor("root", runtime, intensity=5) as sup:
        a = sup.start_child(child(births, "a"))
        b = sup.start_child(child(births, "b"))
        await a.send(Crash())
        assert await a.ask(Ping, timeout=1) == 2
        assert await b.ask(Ping, timeout=1) == 1
    assert runtime.stats.restarts["worker"] == 1


async def test_messages_queued_behind_the_crash_survive_the_restart() -> None:
    births = Births()
    async with open_supervisor("root") as sup:
        ref = sup.start_child(child(births, "a"))
        replies: list[int] = []

        async def ask() -> None:
            replies.append(await ref.ask(Ping, timeout=1))

        ref.try_send(Crash())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
        assert replies == [2]


@pytest.mark.parametrize(
    ("restart", "message", "restarted"),
    [
        (Restart.PERMANENT, Quit(), True),
        (Restart.PERMANENT, Crash(), True),
        (Restart.TRANSIENT, Quit(), False),
        (Restart.TRANSIENT, Crash(), True),
        (Restart.TEMPORARY, Quit(), False),
        (Restart.TEMPORARY, Crash(), False),
    ],
)
async def test_restart_types(restart: Restart, message: Msg, restarted: bool) -> None:
    births = Births()
    async with open_supervisor("root") as sup:
        ref = sup.start_child(child(births, "a", restart))
        await ref.send(message)
        await trio.testing.wait_all_tasks_blocked()
        assert ref.alive is restarted
        assert (sup.children() == ["a"]) is restarted
        assert births.count["a"] == (2 if restarted else 1)


async def test_one_for_all_restarts_every_child_in_order() -> None:
    births = Births()
    async with open_supervisor("root", strategy=Strategy.ONE_FOR_ALL) as sup:
        a = sup.start_child(child(births, "a"))
        b = sup.start_child(child(births, "b"))
        t = sup.start_child(child(births, "t", Restart.TEMPORARY))
        await b.send(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert await a.ask(Ping, timeout=1) == 2
        assert await b.ask(Ping, timeout=1) == 2
        assert not t.alive, "temporary children are not restarted by one_for_all"
        assert sup.children() == ["a", "b"]


async def test_stop_goes_through_the_cancel_scope_even_for_a_wedged_actor() -> None:
    class Wedged(Actor[Msg]):
        async def run(self, inbox: Mailbox[Msg]) -> None:
            await trio.sleep_forever()

    runtime = Runtime()
    async with open_supervisor("root", runtime) as sup:
        ref = sup.start_child(ChildSpec(id="w", factory=Wedged, kind="wedged"))
        ref.try_send(Quit())
        await trio.testing.wait_all_tasks_blocked()
        await sup.stop_child("w")
        assert not ref.alive
        assert runtime.dead_letters.counts[("wedged", Reason.STOPPED)] == 1
        await ref.send(Quit())
        assert runtime.dead_letters.counts[("wedged", Reason.STOPPED)] == 2


async def test_duplicate_child_id_is_refused() -> None:
    births = Births()
    async with open_supervisor("root") as sup:
        sup.start_child(child(births, "a"))
        with pytest.raises(DuplicateChild, match="'a'"):
            sup.start_child(child(births, "a"))


async def test_backoff_delays_restarts(autojump_clock: trio.testing.MockClock) -> None:
    births = Births()
    backoff = Backoff(first=1.0, factor=2.0, ceiling=10.0, jitter=0.0)
    async with open_supervisor("root", intensity=10, period=100.0, backoff=backoff) as sup:
        ref = sup.start_child(child(births, "a"))
        start = trio.current_time()
        for _ in range(3):
            await ref.send(Crash())
            await ref.ask(Ping, timeout=60)
        # 1 s + 2 s + 4 s of backoff
        assert trio.current_time() - start == pytest.approx(7.0)


async def test_nested_supervisor_escalation_is_a_failure_of_the_parent_child(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An inner supervisor that gives up is restarted by the outer one, with fresh children."""
    births = Births()
    runtime = Runtime()
    inners: list[Supervisor] = []

    def inner() -> Supervisor:
        inners.append(Supervisor("inner", runtime, intensity=0, children=[child(births, "a")]))
        return inners[-1]

    async with open_supervisor("outer", runtime, intensity=3) as outer:
        outer.start_child(ChildSpec(id="inner", factory=inner, kind="supervisor"))
        await trio.testing.wait_all_tasks_blocked()
        first = inners[0].child("a")
        assert first is not None
        await first.send(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert len(inners) == 2, "the outer supervisor restarted the inner one"
        second = inners[1].child("a")
        assert second is not None and not first.alive
        assert await second.ask(Ping, timeout=1) == 2
    assert runtime.stats.escalations["inner"] == 1
    assert runtime.stats.restarts["supervisor"] == 1


async def test_escalation_stops_children_and_raises(autojump_clock: trio.testing.MockClock) -> None:
    births = Births()
    runtime = Runtime()
    sup = Supervisor("root", runtime, intensity=2, period=10.0)
    ref = sup.start_child(child(births, "a"))
    with pytest.RaisesGroup(pytest.RaisesExc(Escalation, match=r"root: more than 2 restarts in 10.0 s")):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            for _ in range(3):
                await ref.send(Crash())
                await trio.testing.wait_all_tasks_blocked()
    assert not ref.alive
    assert runtime.stats.escalations["root"] == 1


def escalates_at(times: list[float], intensity: int, period: float) -> int | None:
    """Model: the index of the restart at which more than ``intensity`` fall in (t - period, t]."""
    for i, t in enumerate(times):
        if sum(1 for u in times[: i + 1] if u > t - period) > intensity:
            return i
    return None


async def crash_at(sup: Supervisor, ref: ActorRef[Msg], times: list[float]) -> int | None:
    """Run ``sup`` and crash ``ref``'s actor at each of ``times``: the failure it escalated at, or None."""
    crashes = 0
    escalated = False
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            start = trio.current_time()
            for t in times:
                await trio.sleep_until(start + t)
                await ref.send(Crash())
                crashes += 1
                await trio.testing.wait_all_tasks_blocked()
            sup.stop()
    except* Escalation:
        escalated = True
    return crashes - 1 if escalated else None


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 20), min_size=1, max_size=12),
    intensity=st.integers(0, 4),
    period=st.integers(1, 30),
)
def test_intensity_property(gaps: list[int], intensity: int, period: int) -> None:
    """Crash a permanent child at given (virtual) times: escalation happens exactly where the model says."""
    times = [float(sum(gaps[: i + 1])) for i in range(len(gaps))]
    expected = escalates_at(times, intensity, float(period))

    async def scenario() -> tuple[int | None, int]:
        births = Births()
        runtime = Runtime()
        sup = Supervisor("root", runtime, intensity=intensity, period=float(period))
        ref = sup.start_child(child(births, "a"))
        return await crash_at(sup, ref, times), births.count["a"]

    got, incarnations = trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    assert got == expected
    assert incarnations == (expected if expected is not None else len(times)) + 1


@dataclass
class StartLog:
    """Which child started, in the order the incarnations began."""

    order: list[str] = field(default_factory=list)
    births: Births = field(default_factory=Births)

    def spec(self, name: str, restart: Restart = Restart.PERMANENT) -> ChildSpec[Msg]:
        make = self.births.factory(name)

        def logged() -> Actor[Msg]:
            self.order.append(name)
            return make()

        return ChildSpec(id=name, factory=logged, kind="worker", restart=restart)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 6), data=st.data())
def test_rest_for_one_restarts_the_failed_child_and_those_after_it_in_order(
    size: int, data: st.DataObject
) -> None:
    failing = data.draw(st.integers(0, size - 1), label="failing")
    names = [f"c{i}" for i in range(size)]

    async def scenario() -> StartLog:
        log = StartLog()
        async with open_supervisor("root", strategy=Strategy.REST_FOR_ONE, intensity=5) as sup:
            refs = [sup.start_child(log.spec(name)) for name in names]
            await trio.testing.wait_all_tasks_blocked()
            log.order.clear()
            await refs[failing].send(Crash())
            await trio.testing.wait_all_tasks_blocked()
            for ref in refs:
                assert await ref.ask(Ping, timeout=1) >= 1, "every child still answers"
        return log

    log = trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    assert log.order == names[failing:]
    for i, name in enumerate(names):
        assert log.births.count[name] == (2 if i >= failing else 1)


async def test_rest_for_one_drops_later_temporary_children() -> None:
    log = StartLog()
    async with open_supervisor("root", strategy=Strategy.REST_FOR_ONE) as sup:
        a = sup.start_child(log.spec("a"))
        t = sup.start_child(log.spec("t", Restart.TEMPORARY))
        b = sup.start_child(log.spec("b"))
        await a.send(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert not t.alive
        assert sup.children() == ["a", "b"]
        assert await b.ask(Ping, timeout=1) == 2


@dataclass(frozen=True)
class Slow:
    """Handled in ``seconds``; ``done`` records that the handling finished."""

    seconds: float
    done: list[float]


class Careful(Actor[Slow]):
    async def run(self, inbox: Mailbox[Slow]) -> None:
        while True:
            message = await inbox.get()
            await trio.sleep(message.seconds)
            message.done.append(trio.current_time())


@pytest.mark.parametrize(
    ("work", "grace", "finished"), [(2.0, 5.0, True), (10.0, 5.0, False), (2.0, 0.0, False)]
)
async def test_shutdown_grace_lets_the_message_in_hand_finish(
    autojump_clock: trio.testing.MockClock, work: float, grace: float, finished: bool
) -> None:
    """Stopping interrupts the mailbox and waits the grace; a child still busy after it is cancelled."""
    runtime = Runtime()
    done: list[float] = []
    async with open_supervisor("root", runtime) as sup:
        ref = sup.start_child(ChildSpec(id="c", factory=Careful, kind="careful", shutdown=grace))
        await ref.send(Slow(work, done))
        await ref.send(Slow(work, done))  # queued: not handled once the stop has been asked
        await trio.sleep(0.5)
        start = trio.current_time()
        await sup.stop_child("c")
        stopped_after = trio.current_time() - start
    assert (len(done) == 1) is finished
    assert len(done) <= 1
    assert stopped_after <= grace + 1e-9
    assert runtime.dead_letters.counts[("careful", Reason.STOPPED)] == 1, "the queued one"


async def test_a_nested_supervisor_shuts_its_children_down_gracefully(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runtime = Runtime()
    done: list[float] = []
    inner = Supervisor(
        "inner",
        runtime,
        children=[ChildSpec(id="c", factory=Careful, kind="careful", shutdown=5.0)],
    )
    async with open_supervisor("outer", runtime) as outer:
        outer.start_child(ChildSpec(id="inner", factory=lambda: inner, kind="supervisor", shutdown=10.0))
        await trio.testing.wait_all_tasks_blocked()
        ref = inner.child("c")
        assert ref is not None
        await ref.send(Slow(2.0, done))
        await trio.sleep(0.5)
        await outer.stop_child("inner")
    assert len(done) == 1, "the inner child finished its message before the tree stopped"


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 20), min_size=1, max_size=10),
    intensity=st.integers(0, 4),
    period=st.integers(1, 30),
)
def test_rest_for_one_intensity_property(gaps: list[int], intensity: int, period: int) -> None:
    """rest_for_one counts one restart per failure (not per child restarted with it) toward intensity."""
    times = [float(sum(gaps[: i + 1])) for i in range(len(gaps))]
    expected = escalates_at(times, intensity, float(period))

    async def scenario() -> tuple[int | None, dict[str, int]]:
        log = StartLog()
        sup = Supervisor(
            "root", Runtime(), strategy=Strategy.REST_FOR_ONE, intensity=intensity, period=float(period)
        )
        first = sup.start_child(log.spec("a"))
        sup.start_child(log.spec("b"))
        return await crash_at(sup, first, times), log.births.count

    got, births = trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    assert got == expected
    restarted = expected if expected is not None else len(times)
    assert births == {"a": restarted + 1, "b": restarted + 1}, "b restarts with a, every time"
