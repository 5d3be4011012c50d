"""A station actor on a test bench: an in-memory store with injected faults and a fake connection.

The station actor runs under a real supervisor with a real transaction-id allocator, exactly as the
fleet starts it; only the store (wrapped to add latency or fail appends) and the connection (a
``Line`` that records what the server sends) are stand-ins, so a test sees what a station would see.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from actors.commands import Command
from actors.handlers import Handlers
from actors.ocpp_stats import OcppStats
from actors.policy import FleetPolicy
from actors.station import Attach, FrameIn, LineSlot, SendCommand, StationActor, StationDeps, StationMessage
from actors.transaction_ids import TransactionIds
from adapters.stores import open_store
from core.actor import ActorRef
from core.events import EventRecord, NewEvent
from core.store import CommitFailed, EventStore
from core.supervisor import ChildSpec, Restart, Runtime, Supervisor

WAIT = 30.0
"""How long a test waits for the server to send something (generous: the machine is shared)."""


class FaultyStore:
    """An event store that delegates to ``inner`` and injects faults into appends.

    ``latency``: seconds added after each append (the commit takes that long to come back);
    ``lost``: the next appends fail with nothing stored; ``unknown``: the next appends are stored and
    then fail as if the committer died before it answered. ``only`` picks the streams faults apply to.
    """

    def __init__(self, inner: EventStore) -> None:
        self.inner = inner
        self.latency = 0.0
        self.lost = 0
        self.unknown = 0
        self.only: Callable[[str], bool] = lambda stream: True
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def append(
        self, events: Sequence[NewEvent], expected: Mapping[str, int] | None = None
    ) -> list[EventRecord]:
        targeted = any(self.only(event.stream) for event in events)
        if targeted and self.lost > 0:
            self.lost -= 1
            self.failed += 1
            await trio.lowlevel.checkpoint()
            raise CommitFailed("injected: the commit failed, nothing of this append was stored")
        records = await self.inner.append(events, expected)
        if targeted and self.latency:
            await trio.sleep(self.latency)
        if targeted and self.unknown > 0:
            self.unknown -= 1
            self.failed += 1
            raise CommitFailed("injected: the committer was lost; this append may be stored")
        return records


@dataclass
class FakeLine:
    """A connection that records every frame the server sends, decoded."""

    subprotocol: str = "ocpp1.6"
    remote: str = "127.0.0.1:9"
    closed: str | None = None
    sent: list[list[Any]] = field(default_factory=list)
    _arrived: trio.Event = field(default_factory=trio.Event)

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))
        self._arrived.set()
        self._arrived = trio.Event()
        await trio.lowlevel.checkpoint()

    async def close(self, reason: str, code: int = 1000) -> None:
        self.closed = reason
        await trio.lowlevel.checkpoint()

    async def reply_to(self, unique_id: str) -> list[Any]:
        """The frame answering our call ``unique_id`` (waits for it, up to ``WAIT`` seconds)."""
        with trio.fail_after(WAIT):
            while True:
                for frame in self.sent:
                    if frame[0] in (3, 4) and frame[1] == unique_id:
                        return frame
                await self._arrived.wait()

    async def next_call(self, action: str) -> list[Any]:
        """The first CALL of ``action`` the server has sent (waits for it, up to ``WAIT`` seconds)."""
        with trio.fail_after(WAIT):
            while True:
                for frame in self.sent:
                    if frame[0] == 2 and frame[2] == action:
                        return frame
                await self._arrived.wait()


@dataclass
class Bench:
    store: FaultyStore
    ref: ActorRef[StationMessage]
    line: FakeLine
    conn: int
    incarnations: list[StationActor]
    nursery: trio.Nursery
    station_id: str = "CP1"
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """Send a CALL as the station and return the server's answer frame."""
        unique_id = f"s{next(self._ids)}"
        await self.frame(json.dumps([2, unique_id, action, payload]))
        return await self.line.reply_to(unique_id)

    async def frame(self, text: str) -> None:
        await self.ref.send(FrameIn(self.conn, text, self.incarnations[0].deps.clock.wall()))

    async def command(self, command: Command, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        return await self.ref.ask(lambda reply: SendCommand(command, reply), timeout=timeout)

    async def stream(self) -> list[EventRecord]:
        return await self.store.inner.read_stream(f"station/{self.station_id}")


@asynccontextmanager
async def station_bench(policy: FleetPolicy | None = None) -> AsyncIterator[Bench]:
    """A running station actor with one attached ``FakeLine`` over a ``FaultyStore``."""
    policy = policy or FleetPolicy()
    runtime = Runtime()
    async with open_store("memory://") as inner:
        store = FaultyStore(inner)
        supervisor = Supervisor("test", runtime, intensity=100, period=10.0)
        ids = supervisor.start_child(
            ChildSpec(
                id="transaction-ids",
                factory=lambda: TransactionIds(store, runtime.clock),  # type: ignore[arg-type]
                kind="transaction_ids",
            )
        )
        deps = StationDeps(
            store=store,  # type: ignore[arg-type]
            clock=runtime.clock,
            policy=policy,
            handlers=Handlers(),
            transaction_ids=ids,
            connectors=lambda station, connector: None,
            stats=OcppStats(),
        )
        slot = LineSlot()
        incarnations: list[StationActor] = []

        def make() -> StationActor:
            incarnations.append(StationActor("CP1", deps, slot))
            return incarnations[-1]

        ref: ActorRef[StationMessage] = supervisor.start_child(
            ChildSpec(id="station/CP1", factory=make, kind="station", restart=Restart.PERMANENT)
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor.run)
            line = FakeLine()
            conn = await ref.ask(lambda reply: Attach(line, reply), timeout=30)
            yield Bench(store, ref, line, conn, incarnations, nursery)
            nursery.cancel_scope.cancel()
