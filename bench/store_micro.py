"""Micro-benchmark of the event store: appends per second on SQLite, and what group commit buys.

Measures, in a temporary directory on the machine it runs on:
- one appender, one request per commit, at batch sizes 1, 100 and 1000 events per request
  (``max_delay=0``: a lone appender should not wait for company that never comes);
- the same single-event appender with the default ``max_delay`` (the latency price of waiting);
- 100 concurrent appenders of one event each, through the batching writer, with and without
  ``max_delay`` (mean events per commit shows how much they share);
- the in-memory backend with 100 concurrent appenders, its recorder called inline (the default)
  and through a worker thread, which is why the memory backend runs inline.

``python -m bench.store_micro`` prints the figures as JSON. One run takes about 15 s.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import trio

from adapters.stores import open_store
from adapters.stores.recorded import RecordedStore
from core.events import NewEvent

T0 = datetime(2026, 11, 21, tzinfo=UTC)
SECONDS = 1.5  # per measurement


def _events(stream: str, n: int, start: int) -> list[NewEvent]:
    return [
        NewEvent(stream, "MeterSampled", {"i": start + k, "wh": 1234.5, "phase": "L1"}, T0) for k in range(n)
    ]


async def _sequential(url: str, batch: int, max_delay: float) -> dict[str, float]:
    async with open_store(url, max_delay=max_delay) as store:
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < SECONDS:
            await store.append(_events(f"meter/m{batch}", batch, done))
            done += batch
        elapsed = time.perf_counter() - started
    return {"events_per_s": round(done / elapsed), "events": done}


async def _concurrent(
    url: str, appenders: int, max_delay: float, offload: bool | None = None
) -> dict[str, float]:
    async with open_store(url, max_delay=max_delay) as store:
        assert isinstance(store, RecordedStore)
        if offload is not None:
            store.log.offload = offload
        done = 0
        started = time.perf_counter()

        async def appender(k: int) -> None:
            nonlocal done
            while time.perf_counter() - started < SECONDS:
                await store.append(_events(f"station/CP-{k}", 1, done))
                done += 1

        async with trio.open_nursery() as nursery:
            for k in range(appenders):
                nursery.start_soon(appender, k)
        elapsed = time.perf_counter() - started
        stats = store.stats
    return {
        "events_per_s": round(done / elapsed),
        "events": done,
        "commits": stats.batches,
        "mean_events_per_commit": round(stats.events / max(stats.batches, 1), 1),
        "mean_commit_ms": round(1000 * stats.commit_seconds / max(stats.batches, 1), 3),
    }


async def _measure(directory: str) -> dict[str, Any]:
    files = iter(range(100))

    def sqlite() -> str:
        return f"sqlite://{directory}/bench-{next(files)}.db"

    results: dict[str, Any] = {}
    for batch in (1, 100, 1000):
        results[f"sqlite_sequential_batch_{batch}"] = await _sequential(sqlite(), batch, max_delay=0.0)
    results["sqlite_sequential_batch_1_max_delay_2ms"] = await _sequential(sqlite(), 1, max_delay=0.002)
    results["sqlite_concurrent_100_max_delay_0"] = await _concurrent(sqlite(), 100, max_delay=0.0)
    results["sqlite_concurrent_100_max_delay_2ms"] = await _concurrent(sqlite(), 100, max_delay=0.002)
    results["memory_concurrent_100_inline"] = await _concurrent(
        "memory://", 100, max_delay=0.0, offload=False
    )
    results["memory_concurrent_100_thread"] = await _concurrent("memory://", 100, max_delay=0.0, offload=True)
    return results


def run() -> dict[str, Any]:
    """Run every measurement in a fresh temporary directory and return the figures."""
    with tempfile.TemporaryDirectory(prefix="chargeward-store-bench-") as directory:
        results: dict[str, Any] = trio.run(_measure, directory)
    results["seconds_per_measurement"] = SECONDS
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
