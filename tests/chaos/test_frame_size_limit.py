"""Chaos: one station sends a frame exactly at the size limit every millisecond.

``[server] max_frame_bytes`` (64 KiB) is what one station may send in one frame; this one sends
that, as DataTransfer CALLs, as fast as the server lets it (one per millisecond at most; TCP
backpressure sets the pace once the station's mailbox is full). Meanwhile the other stations keep
being served within a generous bound, and every DataTransfer the flooder got a CALLRESULT for is in
the log after the server stops: nothing acknowledged is lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
import trio_websocket

from adapters.stores import open_store
from tests.chaos.served import chargeward
from tests.integration.peer import peer_station

LIMIT = 65536
SECONDS = 8


def frame_at_limit(n: int) -> str:
    """A DataTransfer CALL of exactly ``LIMIT`` bytes (ASCII, so characters are bytes)."""
    head = json.dumps([2, f"m{n}", "DataTransfer", {"vendorId": "FLOOD", "messageId": f"m{n}", "data": ""}])
    text = head[:-3] + "x" * (LIMIT - len(head)) + head[-3:]
    assert len(text.encode()) == LIMIT
    return text


async def flood(url: str, acknowledged: set[str], stop: trio.Event) -> None:
    async with trio_websocket.open_websocket_url(
        f"{url}/FLOODER", subprotocols=["ocpp1.6"], max_message_size=1 << 20
    ) as ws:
        sent = answered = 0
        all_answered = trio.Event()

        async def read() -> None:
            nonlocal answered
            while True:
                answer = json.loads(await ws.get_message())
                answered += 1
                if answer[0] == 3:
                    acknowledged.add(answer[1])
                if stop.is_set() and answered >= sent:
                    all_answered.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            while not stop.is_set():
                await ws.send_message(frame_at_limit(sent))
                sent += 1
                await trio.sleep(0.001)
            if answered < sent:
                with trio.move_on_after(30):  # the answers to what is still in flight
                    await all_answered.wait()
            nursery.cancel_scope.cancel()


@pytest.mark.slow
async def test_frames_at_the_size_limit_from_one_station_cost_only_that_station(tmp_path: Path) -> None:
    acknowledged: set[str] = set()
    slowest = 0.0
    async with chargeward(tmp_path, f"[server]\nmax_frame_bytes = {LIMIT}\n") as server:
        async with peer_station(server.ocpp_url, "QUIET") as quiet, trio.open_nursery() as nursery:
            stop = trio.Event()
            nursery.start_soon(flood, server.ocpp_url, acknowledged, stop)
            end = trio.current_time() + SECONDS
            while trio.current_time() < end:
                started = trio.current_time()
                await quiet.call("Heartbeat")
                slowest = max(slowest, trio.current_time() - started)
                await trio.sleep(0.2)
            stop.set()
        assert server.served.process.returncode is None, "the server is still up after the flood"
        assert await server.served.stop() == 0
    assert slowest < 15, f"the other station waited {slowest:.1f} s for a heartbeat"
    assert len(acknowledged) > 10, "the flooder was served too"
    async with open_store(f"sqlite:///{tmp_path / 'events.db'}") as store:
        records = await store.read_stream("station/FLOODER")
    logged = {r.data.get("message_id") for r in records if r.type == "DataTransferred"}
    assert acknowledged <= logged, f"{len(acknowledged - logged)} acknowledged transfers are not in the log"
