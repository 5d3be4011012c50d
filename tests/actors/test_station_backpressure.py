"""Backpressure on one station: queued commands whose caller gave up, a byte budget.

Defect 6 of issue 10 (a queued command timed out for the operator and was still sent later) and the
third probe of its item 11 (a station that stops reading while 900 KB commands arrive: memory grew
without bound, every command got 504, never 429; the blocked send itself is bounded by the
transport's ``[server] send_timeout``). Through the fleet, as the API calls it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from actors.commands import Command, CommandError, OutboxFull
from actors.fleet import Fleet
from actors.policy import FleetPolicy, StationPolicy
from adapters.stores import open_store
from core.actor import AskTimeout
from core.supervisor import Runtime
from tests.actors.station_bench import FakeLine

pytestmark = pytest.mark.usefixtures("autojump_clock")


@asynccontextmanager
async def fleet_with_station(policy: FleetPolicy) -> AsyncIterator[tuple[Fleet, FakeLine]]:
    async with open_store("memory://") as store, trio.open_nursery() as nursery:
        fleet = Fleet(Runtime(), store, policy)
        await nursery.start(fleet.run)
        line = FakeLine()
        await fleet.attach("CP1", line)
        yield fleet, line
        nursery.cancel_scope.cancel()


async def attempt(fleet: Fleet, command: Command) -> None:
    """A caller in the background; whatever the command's outcome, the test looks at the line."""
    with contextlib.suppress(CommandError, trio.TooSlowError):
        await fleet.call("CP1", command)


def calls(line: FakeLine, action: str) -> int:
    return sum(1 for frame in line.sent if frame[0] == 2 and frame[2] == action)


async def test_a_queued_command_whose_caller_gave_up_is_never_sent() -> None:
    policy = FleetPolicy(default=StationPolicy(call_timeout=2.0))
    async with fleet_with_station(policy) as (fleet, line), trio.open_nursery() as nursery:
        nursery.start_soon(attempt, fleet, Command("Reset", {"type": "Soft"}))
        await line.next_call("Reset")  # in flight; the station never answers it
        with pytest.raises(AskTimeout):  # the operator's 504
            await fleet.call("CP1", Command("ClearCache", {}), timeout=1.0)
        await trio.sleep(10)  # the Reset times out at 2 s, freeing the slot
        assert calls(line, "ClearCache") == 0, "sent after its caller was told it timed out"
        # A command whose caller still waits is sent when the slot frees.
        nursery.start_soon(attempt, fleet, Command("Reset", {"type": "Hard"}))
        await trio.sleep(0.1)
        nursery.start_soon(attempt, fleet, Command("ClearCache", {}))
        await line.next_call("ClearCache")
        nursery.cancel_scope.cancel()


async def test_commands_beyond_the_byte_budget_are_refused_as_outbox_full() -> None:
    policy = FleetPolicy(outbox_bytes=4 * 1024 * 1024)
    big = Command("DataTransfer", {"vendorId": "probe", "data": "x" * 900_000})
    async with fleet_with_station(policy) as (fleet, line), trio.open_nursery() as nursery:
        nursery.start_soon(attempt, fleet, big)
        await line.next_call("DataTransfer")  # in flight, never answered: the rest queue
        for _ in range(4):
            nursery.start_soon(attempt, fleet, big)
        await trio.sleep(1)
        with pytest.raises(OutboxFull, match="bytes"):
            await fleet.call("CP1", big)
        snapshot = await fleet.inspect("CP1")
        assert snapshot is not None and snapshot.outbox == 4
        nursery.cancel_scope.cancel()
