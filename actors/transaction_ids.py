"""Transaction ids unique across restarts, allocated durably in blocks (hi/lo).

Before handing out ids from a new block the allocator commits ``TransactionIdsReserved`` to its
node stream; after a restart it continues after the last reserved block. Ids of a block that was
not used up before a crash are skipped, never reused, so uniqueness costs one append per block.

Nodes sharing one store share the stream: a reservation that meets another node's (a version
conflict) reads the stream again and reserves after it, so ids stay unique across nodes.

A reservation that fails to commit fails only the request in hand (its StartTransaction gets a
CALLERROR); the allocator keeps running and reads its stream again before the next reservation,
because a commit whose outcome was unknown may have stored the block after all.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.events import events_of, new_events
from actors.events.node import TransactionIdsReserved
from core.actor import Actor, Reply
from core.clock import Clock
from core.store import ConcurrencyConflict, EventStore, StoreError

BLOCK = 100
RESERVE_ATTEMPTS = 10  # reservations lost in a row to other nodes before the request fails
MAX_ID = 2**31 - 1  # OCPP 1.6 transactionId is a JSON integer; chargers commonly store int32


@dataclass(frozen=True, slots=True)
class Allocate:
    reply: Reply[int]


class TransactionIds(Actor[Allocate]):
    """Hands out transaction ids; one per node stream."""

    def __init__(
        self, store: EventStore, clock: Clock, stream: str = "node/local", block: int = BLOCK
    ) -> None:
        self.store = store
        self.clock = clock
        self.stream = stream
        self.block = block
        self.version = 0
        self.next_id = 1
        self.reserved_to = 0
        self.stale = False  # a reservation failed: read the stream before the next one

    async def started(self) -> None:
        for record in await self.store.read_stream(self.stream):
            self.version = record.sequence
            for event in events_of(record):
                if isinstance(event, TransactionIdsReserved):
                    self.reserved_to = event.last
        self.next_id = self.reserved_to + 1
        self.stale = False

    async def receive(self, message: Allocate) -> None:
        if self.next_id > self.reserved_to:
            try:
                await self._reserve()
            except StoreError as error:
                self.stale = True
                message.reply.fail(error)
                return
            except OverflowError as error:
                message.reply.fail(error)
                return
        message.reply.send(self.next_id)
        self.next_id += 1

    async def _reserve(self) -> None:
        """Commit the next block; ids after a block whose outcome was unknown are skipped, not reused."""
        if self.stale:
            await self.started()
        for attempt in range(RESERVE_ATTEMPTS):
            if self.next_id <= self.reserved_to:
                return
            first, last = self.next_id, min(self.next_id + self.block - 1, MAX_ID)
            if first > MAX_ID:
                raise OverflowError("transaction ids exhausted (int32)")
            try:
                records = await self.store.append(
                    new_events(
                        self.stream, [TransactionIdsReserved(first=first, last=last)], self.clock.wall()
                    ),
                    expected={self.stream: self.version},
                )
            except ConcurrencyConflict:
                if attempt == RESERVE_ATTEMPTS - 1:
                    raise
                await self.started()  # another node reserved a block: continue after it
                continue
            self.version = records[-1].sequence
            self.reserved_to = last
            return
