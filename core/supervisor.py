"""OTP-style supervisors on trio.

A :class:`Supervisor` is a task owning a nursery. Each child runs inside its own cancel scope;
stopping and restarting go through those scopes, never through the mailbox, so a wedged actor can
always be stopped. A child's mailbox survives its restarts, so :class:`~core.actor.ActorRef`
holders never notice a restart except for the one message that crashed the actor.

Restart rules copy Erlang/OTP: a child is ``permanent`` (always restarted), ``transient`` (restarted
only after a failure) or ``temporary`` (never restarted). ``one_for_one`` restarts only the child
that exited; ``one_for_all`` stops every child and starts them all again in order; ``rest_for_one``
stops the children started after the one that exited (last first) and starts it and them again, in
start order: later children depend on earlier ones, earlier ones do not notice. More than
``intensity`` restarts within ``period`` seconds means restarting does not help: the supervisor
stops all its children and raises :class:`Escalation`, which its own supervisor sees as a failure.

A child's ``shutdown`` grace says how it is stopped: with 0 its scope is cancelled at once (OTP's
``brutal_kill``); with a grace its mailbox is interrupted first, so the actor finishes the message in
hand (a commit and its answer) and returns, and its scope is cancelled only if the grace runs out.
A supervisor run as a child takes the interrupt as a request to shut its own children down that way.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

import trio

from core.actor import ActorRef
from core.clock import Clock, TrioClock
from core.dead_letters import DeadLetters
from core.mailbox import Mailbox, Overflow
from core.stats import RuntimeStats

M = TypeVar("M")

logger = logging.getLogger("chargeward.supervisor")

_JITTER = random.Random()  # shared by unseeded supervisors: a Random's state is 2.5 KB, one per station


@dataclass
class Runtime:
    """What every supervisor and actor of one process shares: the clock and the counters."""

    clock: Clock = field(default_factory=TrioClock)
    dead_letters: DeadLetters = field(default_factory=DeadLetters)
    stats: RuntimeStats = field(init=False)

    def __post_init__(self) -> None:
        self.stats = RuntimeStats(self.dead_letters)


class Restart(enum.Enum):
    """When a child that exited is started again."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Strategy(enum.Enum):
    """Which children restart when one exits."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before a restart, growing with the restarts already in the intensity window."""

    first: float = 0.1
    factor: float = 2.0
    ceiling: float = 10.0
    jitter: float = 0.1  # +/- this fraction, so a fleet of crashing actors does not restart in lockstep

    def delay(self, recent_restarts: int, rng: random.Random) -> float:
        base = min(self.ceiling, self.first * self.factor ** max(0, recent_restarts - 1))
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0)))


class Runnable(Protocol[M]):
    """What a child spec starts: an actor, or a nested supervisor."""

    async def run(self, inbox: Mailbox[M]) -> None: ...


@dataclass(frozen=True, slots=True)
class ChildSpec(Generic[M]):
    """How to start, and when to restart, one child."""

    id: str
    factory: Callable[[], Runnable[M]]
    kind: str
    restart: Restart = Restart.PERMANENT
    capacity: int = 64
    overflow: Overflow = Overflow.BLOCK
    shutdown: float = 0.0  # seconds to finish the message in hand when stopped; 0 cancels at once


class Escalation(Exception):
    """A supervisor exceeded its restart intensity and gave up."""

    def __init__(self, supervisor: str, restarts: int, period: float, cause: BaseException | None) -> None:
        super().__init__(
            f"supervisor {supervisor}: more than {restarts - 1} restarts in {period} s"
            + (f"; last failure: {cause!r}" if cause is not None else "")
        )
        self.supervisor = supervisor
        self.restarts = restarts
        self.cause = cause


class DuplicateChild(ValueError):
    """A child with this id is already supervised."""


class _Child(Generic[M]):
    __slots__ = ("done", "mailbox", "ref", "scope", "spec", "stopping")

    def __init__(self, spec: ChildSpec[M], runtime: Runtime) -> None:
        self.spec = spec
        self.mailbox: Mailbox[M] = Mailbox(
            spec.capacity, spec.overflow, kind=spec.kind, name=spec.id, dead_letters=runtime.dead_letters
        )
        self.ref = ActorRef(self.mailbox, runtime.dead_letters)
        self.scope: trio.CancelScope | None = None
        self.done = trio.Event()
        self.stopping = False


class _Stopped:
    """Marker: an incarnation ended because its scope was cancelled."""


_STOPPED = _Stopped()


class Supervisor:
    """Supervises children per OTP rules; see the module docstring."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: int = 3,
        period: float = 5.0,
        backoff: Backoff | None = None,
        children: list[ChildSpec[Any]] | None = None,
        seed: int | None = None,
    ) -> None:
        if intensity < 0 or period <= 0:
            raise ValueError("intensity must be >= 0 and period > 0")
        self.name = name
        self.runtime = runtime
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
        self.backoff = backoff
        self._rng = random.Random(seed) if seed is not None else _JITTER
        self._children: dict[str, _Child[Any]] = {}
        self._nursery: trio.Nursery | None = None
        # Monotonic times of the restarts within ``period`` (at most ``intensity`` + 1 of them): a list,
        # since a deque's first block (~760 bytes) would be paid by every station's supervisor.
        self._restarts: list[float] = []
        self._escalation: Escalation | None = None
        self._restart_all = False
        self._stop_requested = False
        for spec in children or ():
            self.start_child(spec)

    # -- public surface -------------------------------------------------------------------------

    def start_child(self, spec: ChildSpec[M]) -> ActorRef[M]:
        """Supervise a new child and return its reference; it starts at once if the supervisor runs."""
        if spec.id in self._children:
            raise DuplicateChild(f"supervisor {self.name} already has a child {spec.id!r}")
        child = _Child(spec, self.runtime)
        self._children[spec.id] = child
        self.runtime.stats.track(child.mailbox)
        if self._nursery is not None:
            self._nursery.start_soon(self._keep, child, name=f"{spec.kind}/{spec.id}")
        return child.ref

    def child(self, child_id: str) -> ActorRef[Any] | None:
        found = self._children.get(child_id)
        return found.ref if found is not None else None

    def children(self) -> list[str]:
        return list(self._children)

    async def stop_child(self, child_id: str) -> None:
        """Stop a child for good (cancel scope), wait for it to end, and dead-letter its queue."""
        child = self._children.pop(child_id, None)
        if child is None:
            await trio.lowlevel.checkpoint()
            return
        child.stopping = True
        await self._halt(child)
        self._retire(child)

    async def shutdown(self) -> None:
        """Stop the children one by one, last started first, each with its grace; then stop."""
        self._stop_requested = True
        for child in reversed(list(self._children.values())):
            await self._halt(child)
        self.stop()

    def stop(self) -> None:
        """Stop every child and make :meth:`run` return."""
        self._stop_requested = True
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def run(
        self, inbox: Mailbox[Any] | None = None, *, task_status: Any = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until stopped or cancelled; raise :class:`Escalation` when restarts do not help.

        ``inbox`` makes a supervisor a valid child of another supervisor: an interrupt on it (its
        parent stopping it with a grace) shuts this supervisor's children down gracefully.
        """
        announced = False
        try:
            while not self._stop_requested:
                self._restart_all = False
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    if inbox is not None:  # a hook, not a task waiting on the inbox: one per station
                        inbox.on_interrupt = partial(nursery.start_soon, self.shutdown)
                    for child in list(self._children.values()):
                        nursery.start_soon(self._keep, child, name=f"{child.spec.kind}/{child.spec.id}")
                    if not announced:
                        task_status.started()
                        announced = True
                    await trio.sleep_forever()
                self._nursery = None
                if inbox is not None:
                    inbox.on_interrupt = None  # that nursery is closed; the next round sets it again
                if self._escalation is not None:
                    raise self._escalation
                if not self._restart_all:
                    return
                for child in [c for c in self._children.values() if c.spec.restart is Restart.TEMPORARY]:
                    del self._children[child.spec.id]
                    self._retire(child)
                await self._pause()
        finally:
            self._nursery = None
            if inbox is not None:
                inbox.on_interrupt = None
            for child in self._children.values():
                self._retire(child)
            self._children.clear()

    # -- internals ------------------------------------------------------------------------------

    async def _halt(self, child: _Child[Any]) -> None:
        """End the child's current incarnation: interrupt it, wait out its grace, then cancel it."""
        if child.scope is None:
            await trio.lowlevel.checkpoint()
            return
        if child.spec.shutdown > 0:
            child.mailbox.interrupt()
            with trio.move_on_after(child.spec.shutdown):
                await child.done.wait()
        if child.scope is not None:
            child.scope.cancel()
        await child.done.wait()

    def _after(self, child: _Child[Any]) -> list[_Child[Any]]:
        """The children started after ``child``, in start order."""
        order = list(self._children.values())
        return order[order.index(child) + 1 :] if child in order else []

    async def _restart_rest(self, child: _Child[Any]) -> None:
        """rest_for_one: stop the children after ``child`` (last first), then start them all in order."""
        later = self._after(child)
        for other in reversed(later):
            await self._halt(other)
        for other in [c for c in later if c.spec.restart is Restart.TEMPORARY]:
            del self._children[other.spec.id]
            self._retire(other)
        assert self._nursery is not None
        self._nursery.start_soon(self._start_in_order, [child, *later])

    async def _start_in_order(self, children: list[_Child[Any]]) -> None:
        await self._pause()
        assert self._nursery is not None
        for child in children:
            if self._children.get(child.spec.id) is child and child.scope is None:
                await self._nursery.start(self._keep, child)

    async def _keep(self, child: _Child[Any], *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        child.done = trio.Event()
        task_status.started()  # the caller starts children one by one: each is running before the next
        try:
            with trio.CancelScope() as scope:
                child.scope = scope
                while True:
                    outcome = await self._incarnate(child)
                    if isinstance(outcome, _Stopped):
                        return
                    if not self._wants_restart(child.spec.restart, outcome):
                        self._children.pop(child.spec.id, None)
                        self._retire(child)
                        return
                    self._note_restart(child, outcome)
                    if self._escalation is not None:
                        return
                    if self.strategy is Strategy.ONE_FOR_ALL:
                        self._restart_all = True
                        assert self._nursery is not None
                        self._nursery.cancel_scope.cancel()
                        return
                    if self.strategy is Strategy.REST_FOR_ONE:
                        await self._restart_rest(child)
                        return
                    await self._pause()
        finally:
            child.scope = None
            child.done.set()

    async def _incarnate(self, child: _Child[Any]) -> Exception | _Stopped | None:
        """Run one incarnation of a child: None on a normal exit, the exception on a failure.

        A cancel of the child's scope (``_keep``'s, the only one that stops it) passes through and ends
        ``_keep`` too; no scope of its own here, which would be one more per child and never cancelled.
        """
        child.mailbox.resume()
        try:
            await child.spec.factory().run(child.mailbox)
        except Exception as exc:  # Interrupted, possibly inside an actor's nursery's group
            if child.stopping or child.mailbox.closed or child.mailbox.interrupted:
                return _STOPPED
            logger.warning("%s %s failed: %r", child.spec.kind, child.spec.id, exc, exc_info=exc)
            return exc
        return _STOPPED if child.mailbox.interrupted else None

    @staticmethod
    def _wants_restart(restart: Restart, outcome: Exception | None) -> bool:
        if restart is Restart.PERMANENT:
            return True
        if restart is Restart.TRANSIENT:
            return outcome is not None
        return False

    def _note_restart(self, child: _Child[Any], cause: Exception | None) -> None:
        now = self.runtime.clock.monotonic()
        self._restarts = [t for t in self._restarts if t > now - self.period]
        self._restarts.append(now)
        if len(self._restarts) > self.intensity:
            self.runtime.stats.escalations[self.name] += 1
            self._escalation = Escalation(self.name, len(self._restarts), self.period, cause)
            logger.error("%s", self._escalation)
            if self._nursery is not None:
                self._nursery.cancel_scope.cancel()
            return
        self.runtime.stats.restarts[child.spec.kind] += 1
        logger.info("restarting %s %s (%d in window)", child.spec.kind, child.spec.id, len(self._restarts))

    async def _pause(self) -> None:
        delay = self.backoff.delay(len(self._restarts), self._rng) if self.backoff else 0.0
        await trio.sleep(delay)

    def _retire(self, child: _Child[Any]) -> None:
        child.mailbox.close()
        self.runtime.stats.untrack(child.mailbox)


@asynccontextmanager
async def open_supervisor(
    name: str, runtime: Runtime | None = None, **options: Any
) -> AsyncIterator[Supervisor]:
    """Run a supervisor for the duration of the block; its children stop when the block exits."""
    supervisor = Supervisor(name, runtime if runtime is not None else Runtime(), **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        try:
            yield supervisor
        finally:
            supervisor.stop()
