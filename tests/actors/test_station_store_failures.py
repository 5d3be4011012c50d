"""Defect 2 of issue 10: a failed commit fails only the message in hand, never the station actor.

The actor reads its stream back to learn whether a failed append was stored anyway, retries once,
and otherwise answers the station with CALLERROR InternalError or tells the command's caller.
"""

from __future__ import annotations

import pytest
import trio

from actors.commands import Command, CommandNotRecorded
from actors.events.station import FrameReceived
from tests.actors.station_bench import WAIT, Bench, station_bench


def received(records: list[object], unique_id: str) -> int:
    """How many times the log holds the station's frame with ``unique_id``."""
    return sum(
        1
        for r in records
        if getattr(r, "type", None) == FrameReceived.TYPE and f'"{unique_id}"' in r.data["text"]  # type: ignore[attr-defined]
    )


async def still_serving(bench: Bench) -> None:
    answer = await bench.call("Heartbeat", {})
    assert answer[0] == 3, answer
    assert len(bench.incarnations) == 1, "the station actor was restarted"
    assert bench.line.closed is None


async def test_a_lost_commit_is_retried_and_the_frame_answered_once() -> None:
    async with station_bench() as bench:
        bench.store.lost = 1
        answer = await bench.call("Heartbeat", {})
        assert answer[0] == 3 and bench.store.failed == 1
        assert received(await bench.stream(), answer[1]) == 1
        await still_serving(bench)


async def test_a_commit_of_unknown_outcome_that_was_stored_is_not_stored_twice() -> None:
    async with station_bench() as bench:
        bench.store.unknown = 1
        answer = await bench.call("Heartbeat", {})
        assert answer[0] == 3 and bench.store.failed == 1
        assert received(await bench.stream(), answer[1]) == 1
        await still_serving(bench)


async def test_a_frame_that_cannot_be_stored_gets_internal_error_and_the_station_stays() -> None:
    async with station_bench() as bench:
        bench.store.lost = 2
        answer = await bench.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
        assert answer[0] == 4 and answer[2] == "InternalError", answer
        assert received(await bench.stream(), answer[1]) == 0
        await still_serving(bench)


async def test_a_command_that_cannot_be_recorded_is_not_sent_and_its_caller_is_told() -> None:
    async with station_bench() as bench:
        bench.store.lost = 2
        with pytest.raises(CommandNotRecorded, match="not sent"):
            await bench.command(Command("ClearCache", {}), timeout=WAIT)
        assert not [f for f in bench.line.sent if f[0] == 2], "a call was sent without its record"
        await still_serving(bench)

        async def station_answers() -> None:
            call = await bench.line.next_call("ClearCache")
            await bench.frame(f'[3, "{call[1]}", {{"status": "Accepted"}}]')

        async with trio.open_nursery() as nursery:
            nursery.start_soon(station_answers)
            assert await bench.command(Command("ClearCache", {}), timeout=WAIT) == {"status": "Accepted"}


async def test_a_reply_that_cannot_be_recorded_is_reported_to_the_caller() -> None:
    async with station_bench() as bench:
        outcome: list[BaseException] = []

        async def operator() -> None:
            with pytest.raises(CommandNotRecorded, match="could not be recorded") as caught:
                await bench.command(Command("ClearCache", {}), timeout=WAIT)
            outcome.append(caught.value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(operator)
            call = await bench.line.next_call("ClearCache")
            bench.store.lost = 2
            await bench.frame(f'[3, "{call[1]}", {{"status": "Accepted"}}]')
        assert len(outcome) == 1
        await still_serving(bench)
