"""What one simulated station costs the load generator, per client WebSocket stack.

Measures, against the floor peer, the client process's CPU per OCPP round trip (a MeterValues CALL
with ten samples and its answer) and its resident memory per idle open connection, for the bench's
`WsTransport` (trio + the `websockets` sans-I/O protocol) and for trio-websocket. The bench uses
the cheaper one; this module is how that choice is checked. Run as ``python -m bench.client_micro``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio_websocket

from bench.loadgen import raise_open_file_limit
from bench.servers import BUILTIN, proc_rss_bytes, running
from bench.sim_station import CALL, SimStation, encode
from bench.ws_transport import WsTransport

Exchange = Callable[[str], Awaitable[str]]


async def _ws_transport(_nursery: trio.Nursery, url: str) -> tuple[Exchange, Callable[[], Awaitable[None]]]:
    transport = await WsTransport.connect(url, "ocpp1.6", within=10.0)

    async def exchange(text: str) -> str:
        await transport.send(text)
        reply = await transport.receive(trio.current_time() + 10.0)
        assert reply is not None
        return reply

    return exchange, transport.aclose


async def _trio_websocket(nursery: trio.Nursery, url: str) -> tuple[Exchange, Callable[[], Awaitable[None]]]:
    ws = await trio_websocket.connect_websocket_url(nursery, url, subprotocols=["ocpp1.6"])

    async def exchange(text: str) -> str:
        await ws.send_message(text)
        reply = await ws.get_message()
        return reply if isinstance(reply, str) else reply.decode()

    return exchange, ws.aclose


STACKS = {"websockets-sans-io": _ws_transport, "trio-websocket": _trio_websocket}


async def measure(round_trips: int, idle: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with running(BUILTIN["floor"]) as floor, trio.open_nursery() as nursery:
        station = SimStation("MICRO-1", 1, seed=1)
        for name, open_stack in STACKS.items():
            exchange, close = await open_stack(nursery, f"{floor.url}/MICRO-{name}")
            frames = [
                encode([CALL, station.next_message_id(), "MeterValues", station.meter_values(0)])
                for _ in range(round_trips + 200)
            ]
            for frame in frames[:200]:  # warm up
                await exchange(frame)
            frames = frames[200:]
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for frame in frames:
                await exchange(frame)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            await close()
            rss0 = proc_rss_bytes(os.getpid())
            closers = []
            for i in range(idle):
                closers.append((await open_stack(nursery, f"{floor.url}/IDLE-{name}-{i}"))[1])
            await trio.sleep(0.2)
            rss = proc_rss_bytes(os.getpid()) - rss0
            for closer in closers:
                await closer()
            results[name] = {
                "client_cpu_us_per_round_trip": 1e6 * cpu / round_trips,
                "wall_us_per_round_trip": 1e6 * wall / round_trips,
                "client_rss_kib_per_idle_connection": rss / 1024 / idle,
            }
        nursery.cancel_scope.cancel()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round-trips", type=int, default=5000)
    parser.add_argument("--idle", type=int, default=1000)
    args = parser.parse_args(argv)
    raise_open_file_limit()
    print(json.dumps(trio.run(measure, args.round_trips, args.idle), indent=1))


if __name__ == "__main__":
    main()
