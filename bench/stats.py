"""Latency recording for the load bench: exact samples, nearest-rank percentiles, open-loop schedules.

Why exact rather than an HDR histogram: a bench run here records at most a few hundred thousand round
trips (the 10-minute suite stays well under a million), so keeping every sample as a float costs a few
megabytes, has no quantisation error to argue about, and merges across worker processes by plain
concatenation. Percentiles use the nearest-rank definition, so every reported value is a latency that
was really observed.

Coordinated omission: in open-loop scenarios a latency is measured from the time a message was
*scheduled* to be sent, not from when the station got round to sending it. OCPP allows one CALL in
flight per connection, so a slow answer delays the station's next CALL; measured from the scheduled
time, that queueing shows up in the numbers instead of silently lowering the offered load.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Iterable, Iterator

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)


def nearest_rank(sorted_values: array[float] | list[float], percent: float) -> float:
    """The smallest sample such that at least ``percent`` % of the samples are <= it."""
    if not sorted_values:
        raise ValueError("no samples")
    if not 0.0 < percent <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percent}")
    rank = math.ceil(percent / 100.0 * len(sorted_values) - 1e-9)
    return sorted_values[max(rank, 1) - 1]


class LatencySamples:
    """Every observed latency of one kind (seconds), kept exactly."""

    def __init__(self, values: Iterable[float] = ()) -> None:
        self._values = array("d", values)
        self._sorted = False

    def add(self, seconds: float) -> None:
        self._values.append(seconds)
        self._sorted = False

    def merge(self, other: LatencySamples) -> None:
        self._values.extend(other._values)
        self._sorted = False

    def __len__(self) -> int:
        return len(self._values)

    def ordered(self) -> array[float]:
        """All samples, ascending."""
        if not self._sorted:
            self._values = array("d", sorted(self._values))
            self._sorted = True
        return self._values

    def percentile(self, percent: float) -> float:
        return nearest_rank(self.ordered(), percent)

    def maximum(self) -> float:
        if not self._values:
            raise ValueError("no samples")
        return max(self._values)

    def summary(self) -> dict[str, float]:
        """Count, mean, the standard percentiles and max, in milliseconds (empty dict without samples)."""
        if not self._values:
            return {}
        ordered = self.ordered()
        out: dict[str, float] = {"count": float(len(ordered)), "mean_ms": 1e3 * sum(ordered) / len(ordered)}
        for p in PERCENTILES:
            out[f"p{p:g}_ms"] = 1e3 * nearest_rank(ordered, p)
        out["max_ms"] = 1e3 * ordered[-1]
        return out

    def to_bytes(self) -> bytes:
        return self._values.tobytes()

    @classmethod
    def from_bytes(cls, raw: bytes) -> LatencySamples:
        samples = cls()
        samples._values.frombytes(raw)
        return samples


def poisson_arrivals(rate: float, start: float, end: float, rng: random.Random) -> Iterator[float]:
    """Arrival times of a Poisson process of ``rate`` per second in ``[start, end)``: open-loop sends."""
    if rate <= 0.0:
        return
    t = start + rng.expovariate(rate)
    while t < end:
        yield t
        t += rng.expovariate(rate)
