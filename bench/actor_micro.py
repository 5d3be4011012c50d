"""Actor runtime micro-benchmark: one-way ``send`` throughput and ``ask`` round trip.

Run with ``python -m bench.actor_micro``; ``bench.micro`` folds the figures into the results file.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import trio

from core.actor import Actor, Reply
from core.supervisor import ChildSpec, open_supervisor


@dataclass(frozen=True, slots=True)
class Tick:
    n: int


@dataclass(frozen=True, slots=True)
class Total:
    reply: Reply[int]


class Summer(Actor[Tick | Total]):
    def __init__(self) -> None:
        self.total = 0

    async def receive(self, message: Tick | Total) -> None:
        if isinstance(message, Tick):
            self.total += message.n
        else:
            message.reply.send(self.total)


async def _measure(sends: int, asks: int) -> dict[str, float]:
    async with open_supervisor("bench") as sup:
        ref = sup.start_child(ChildSpec(id="summer", factory=Summer, kind="summer", capacity=1024))
        start = time.perf_counter()
        for i in range(sends):
            await ref.send(Tick(i))
        assert await ref.ask(Total, timeout=60) == sends * (sends - 1) // 2
        send_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(asks):
            await ref.ask(Total, timeout=60)
        ask_s = time.perf_counter() - start
    return {
        "send_per_s": round(sends / send_s),
        "send_us": round(send_s / sends * 1e6, 2),
        "ask_round_trip_us": round(ask_s / asks * 1e6, 2),
        "ask_per_s": round(asks / ask_s),
    }


def run(sends: int = 200_000, asks: int = 50_000) -> dict[str, float]:
    """Figures for one process on one trio thread."""
    return trio.run(_measure, sends, asks)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
