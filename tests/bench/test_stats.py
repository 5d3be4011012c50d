"""Percentile arithmetic and coordinated-omission correction of the bench, checked by properties."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.sim_station import Recorder, SimStation, StationLink, parse_mix, pick
from bench.stats import LatencySamples, nearest_rank, poisson_arrivals

latencies = st.lists(st.floats(min_value=0.0, max_value=60.0, allow_nan=False), min_size=1, max_size=300)
percents = st.floats(min_value=0.001, max_value=100.0)


@settings(max_examples=150, deadline=None)
@given(latencies, percents)
def test_nearest_rank_is_an_observed_value_covering_the_percentile(values: list[float], p: float) -> None:
    samples = LatencySamples(values)
    q = samples.percentile(p)
    assert q in values
    n = len(values)
    at_or_below = sum(v <= q for v in values)
    below = sum(v < q for v in values)
    assert at_or_below >= p / 100.0 * n - 1e-6  # covers p% of the samples
    assert below < p / 100.0 * n + 1e-6  # and is the smallest value that does


@settings(max_examples=100, deadline=None)
@given(latencies, percents, percents)
def test_percentiles_are_monotone_and_bounded_by_max(values: list[float], p: float, r: float) -> None:
    samples = LatencySamples(values)
    lo, hi = sorted((p, r))
    assert samples.percentile(lo) <= samples.percentile(hi) <= samples.maximum() == max(values)
    assert samples.percentile(100.0) == max(values)


@settings(max_examples=100, deadline=None)
@given(latencies, latencies)
def test_merging_workers_equals_recording_in_one(a: list[float], b: list[float]) -> None:
    merged = LatencySamples(a)
    merged.merge(LatencySamples.from_bytes(LatencySamples(b).to_bytes()))  # across a process boundary
    assert merged.summary() == LatencySamples(a + b).summary()


def test_summary_reports_milliseconds_and_refuses_bad_input() -> None:
    summary = LatencySamples([i / 1000 for i in range(1, 1001)]).summary()  # 1..1000 ms
    assert summary["p50_ms"] == pytest.approx(500.0)
    assert summary["p99.9_ms"] == pytest.approx(999.0)
    assert summary["max_ms"] == pytest.approx(1000.0)
    assert LatencySamples().summary() == {}
    with pytest.raises(ValueError, match="no samples"):
        nearest_rank([], 50.0)
    with pytest.raises(ValueError, match="percentile"):
        nearest_rank([1.0], 0.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=1.0, max_value=500.0), st.integers(min_value=0, max_value=2**32))
def test_poisson_arrivals_are_ordered_and_inside_the_window(rate: float, seed: int) -> None:
    times = list(poisson_arrivals(rate, 10.0, 12.0, random.Random(seed)))
    assert times == sorted(times)
    assert all(10.0 < t < 12.0 for t in times)


def test_poisson_arrivals_average_the_rate() -> None:
    counts = [len(list(poisson_arrivals(200.0, 0.0, 10.0, random.Random(seed)))) for seed in range(20)]
    assert sum(counts) / len(counts) == pytest.approx(2000, rel=0.03)  # sd of the mean is ~0.2%


def test_mix_parsing_weights_and_errors() -> None:
    mix = parse_mix("MeterValues=7,Heartbeat=3")
    picked = [pick(mix, u / 100) for u in (0, 69, 70, 99)]
    assert picked == ["MeterValues", "MeterValues", "Heartbeat", "Heartbeat"]
    for bad in ("MeterValues", "Reset=1", "Heartbeat=-1", "Heartbeat=0"):
        with pytest.raises(ValueError):
            parse_mix(bad)


class MemoryTransport:
    """The station's end of an in-memory link to a paired CSMS task (the h11 pairing idea)."""

    def __init__(
        self, outgoing: trio.MemorySendChannel[str], incoming: trio.MemoryReceiveChannel[str]
    ) -> None:
        self.outgoing = outgoing
        self.incoming = incoming

    async def send(self, text: str) -> None:
        await self.outgoing.send(text)

    async def receive(self, deadline: float) -> str | None:
        with trio.move_on_at(deadline):
            return await self.incoming.receive()
        return None

    async def aclose(self) -> None:
        await self.outgoing.aclose()


async def serial_csms(
    inbox: trio.MemoryReceiveChannel[str], outbox: trio.MemorySendChannel[str], delay: float
) -> None:
    """A CSMS that handles one frame at a time and answers each CALL ``delay`` seconds after reading it."""
    async for text in inbox:
        frame = json.loads(text)
        if frame[0] == 2:
            await trio.sleep(delay)
            await outbox.send(json.dumps([3, frame[1], {}]))


def _paired(delay: float) -> tuple[StationLink, Any]:
    to_csms_send, to_csms_recv = trio.open_memory_channel[str](100)
    to_station_send, to_station_recv = trio.open_memory_channel[str](100)
    transport = MemoryTransport(to_csms_send, to_station_recv)
    link = StationLink(SimStation("CO-1", 1, seed=1), transport, timeout=60.0)
    return link, (serial_csms, to_csms_recv, to_station_send, delay)


@settings(max_examples=40, deadline=None)
@given(
    interval_ms=st.integers(min_value=1, max_value=100),
    delay_ms=st.integers(min_value=1, max_value=100),
    n=st.integers(min_value=1, max_value=40),
)
def test_latency_counts_from_the_scheduled_time(interval_ms: int, delay_ms: int, n: int) -> None:
    """Sends every T seconds to a CSMS that takes d per answer, one CALL in flight: once d > T the
    queue grows and the i-th latency is d + i (d - T); measured from the actual send it would stay d."""
    interval, delay = interval_ms / 1000, delay_ms / 1000
    recorder = Recorder()

    async def scenario() -> None:
        link, csms = _paired(delay)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(*csms)
            start = trio.current_time()
            arrivals = [start + i * interval for i in range(n)]
            await link.open_loop(arrivals, parse_mix("Heartbeat=1"), recorder, slack=0.0)
            nursery.cancel_scope.cancel()

    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    observed = sorted(recorder.latencies["Heartbeat"].ordered())
    expected = sorted(delay + i * max(0.0, delay - interval) for i in range(n))
    assert observed == pytest.approx(expected, abs=1e-9)
    assert recorder.timeouts == {} and recorder.errors == {}


async def test_station_answers_what_the_csms_asks_while_idle() -> None:
    """CSMS-initiated CALLs get an answer (canned, or NotImplemented) while the station waits."""
    to_csms_send, to_csms_recv = trio.open_memory_channel[str](10)
    to_station_send, to_station_recv = trio.open_memory_channel[str](10)
    link = StationLink(SimStation("IDLE-1", 2, seed=3), MemoryTransport(to_csms_send, to_station_recv), 5.0)
    recorder = Recorder()
    await to_station_send.send(json.dumps([2, "a", "Reset", {"type": "Soft"}]))
    await to_station_send.send(json.dumps([2, "b", "Frobnicate", {}]))
    await to_station_send.send("not json")
    await link.idle_until(trio.current_time() + 0.05, recorder)
    replies = [json.loads(to_csms_recv.receive_nowait()) for _ in range(2)]
    assert replies[0] == [3, "a", {"status": "Accepted"}]
    assert replies[1][:3] == [4, "b", "NotImplemented"]
    assert recorder.csms_calls_answered == 2 and recorder.malformed == 1


def test_meter_values_are_ten_plausible_samples_and_energy_grows() -> None:
    station = SimStation("MV-1", 1, seed=7)
    station.transaction_id = 42
    first = station.meter_values(0.0)
    second = station.meter_values(3600.0)
    samples = first["meterValue"][0]["sampledValue"]
    assert len(samples) == 10 and first["transactionId"] == 42
    by = {(s["measurand"], s.get("phase")): float(s["value"]) for s in samples}
    assert all(200 < by[("Voltage", p)] < 260 for p in ("L1-N", "L2-N", "L3-N"))
    power = by[("Power.Active.Import", None)]
    energy = [
        float(s["value"])
        for m in (first, second)
        for s in m["meterValue"][0]["sampledValue"]
        if s["measurand"] == "Energy.Active.Import.Register"
    ]
    assert 9_000 < power < 13_000
    assert math.isclose(energy[1] - energy[0], 11_000, rel_tol=0.2)  # about an hour at ~11 kW
