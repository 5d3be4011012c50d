"""Defect 1 of issue 10: a command's reply deadline must never cut a station's frame in half.

The deadline bounds only the wait for the next message. A frame whose commit is still under way
when the deadline passes is committed and answered; the command is then reported timed out, once.
"""

from __future__ import annotations

import pytest
import trio

from actors.commands import Command, CommandTimedOut
from actors.events.station import CommandCompleted, FrameSent
from actors.policy import FleetPolicy, StationPolicy
from tests.actors.station_bench import WAIT, station_bench


async def test_a_frame_in_flight_when_a_command_times_out_is_committed_and_answered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    policy = FleetPolicy(default=StationPolicy(call_timeout=1.0))
    async with station_bench(policy) as bench:
        outcome: list[BaseException] = []

        async def operator() -> None:
            with pytest.raises(CommandTimedOut) as caught:
                await bench.command(Command("Reset", {"type": "Soft"}), timeout=WAIT)
            outcome.append(caught.value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(operator)
            await bench.line.next_call("Reset")  # sent; the station will never answer it
            await trio.sleep(0.5)
            bench.store.latency = 1.5  # the heartbeat's commit comes back after the Reset's deadline
            answer = await bench.call("Heartbeat", {})
            bench.store.latency = 0.0

        assert answer[0] == 3 and "currentTime" in answer[2], answer
        records = await bench.stream()
        sent = [r.data["text"] for r in records if r.type == FrameSent.TYPE]
        assert any(f'"{answer[1]}"' in text and "currentTime" in text for text in sent), "unlogged"
        timeouts = [r for r in records if r.type == CommandCompleted.TYPE and r.data["outcome"] == "timeout"]
        assert len(timeouts) == 1 and len(outcome) == 1
        assert len(bench.incarnations) == 1, "the station actor was restarted"
