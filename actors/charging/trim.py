"""Trimming a schedule to what a station accepts, without ever allowing more than the schedule does.

A station states what it can hold: a number of periods (1.6's ``ChargingScheduleMaxPeriods``), the
rate units it takes (``ChargingScheduleAllowedChargingRateUnit``), and in practice a shortest period
it will act on and a resolution of its limits (0.1 A on many AC chargers, 1 W or 100 W on others).
:func:`trim` makes a schedule fit, in this order:

1. convert to the allowed unit, exactly, with each period's phases and the station's voltage;
2. round every limit down to a multiple of ``step``;
3. align the boundaries to multiples of ``min_period`` seconds from the schedule's start (a cell two
   periods share takes the lower limit), and join a last period cut short by the schedule's end to
   the one before it;
4. while more than ``max_periods`` remain, join the two neighbours whose joining gives up the least
   energy (the higher one's excess over the lower, times its length), at the lower limit.

Every step takes minima or rounds down, so at every instant the trimmed limit is at most the
original's. A stretch with no limit stays without one unless it is joined to a limited neighbour.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from actors.charging.composite import TYPICAL, CompositePeriod, CompositeSchedule, Electrical, convert
from actors.charging.model import TENTH, Unit
from actors.charging.spans import Span, aligned, as_decimal, floored, joined, merged


def trim(
    schedule: CompositeSchedule,
    *,
    max_periods: int,
    unit: Unit | None = None,
    min_period: int = 1,
    step: Decimal = TENTH,
    electrical: Electrical = TYPICAL,
) -> CompositeSchedule:
    """``schedule`` in ``unit`` (default: its own) with at most ``max_periods`` periods, each at least
    ``min_period`` seconds long (unless the whole schedule is shorter) and limits multiples of ``step``."""
    if max_periods < 1:
        raise ValueError(f"max_periods must be 1 or more, got {max_periods}")
    if min_period < 1:
        raise ValueError(f"min_period must be 1 s or more, got {min_period}")
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    target = unit or schedule.unit
    quantum = Fraction(step)
    ends = [p.start for p in schedule.periods[1:]] + [schedule.duration]
    spans = [
        Span(
            p.start,
            end,
            None
            if p.limit is None
            else floored(convert(p.limit, schedule.unit, target, p.phases, electrical), quantum),
            p.phases,
        )
        for p, end in zip(schedule.periods, ends, strict=True)
    ]
    spans = aligned(merged(spans), min_period)
    if len(spans) > 1 and spans[-1].end - spans[-1].start < min_period:
        spans[-2:] = [joined(spans[-2], spans[-1])]
    spans = _fewest(merged(spans), max_periods)
    min_rate = None
    if schedule.min_rate is not None:
        rate = convert(schedule.min_rate, schedule.unit, target, electrical.phases, electrical)
        min_rate = as_decimal(floored(rate, quantum), step)
    periods = tuple(
        CompositePeriod(s.start, None if s.limit is None else as_decimal(s.limit, step), s.phases)
        for s in spans
    )
    return replace(schedule, unit=target, periods=periods, min_rate=min_rate)


def _loss(a: Span, b: Span) -> tuple[int, Fraction]:
    """What joining ``a`` and ``b`` gives up: (1, 0) when it puts a limit on a stretch without one."""
    if a.limit is None or b.limit is None:
        return (0, Fraction(0)) if a.limit is b.limit else (1, Fraction(0))
    low = min(a.limit, b.limit)
    return (0, (a.limit - low) * (a.end - a.start) + (b.limit - low) * (b.end - b.start))


def _fewest(spans: Sequence[Span], max_periods: int) -> list[Span]:
    """Join the cheapest neighbours until ``max_periods`` remain; only the losses next to a join change."""
    out = list(spans)
    losses = [_loss(a, b) for a, b in itertools.pairwise(out)]
    while len(out) > max_periods:
        i = losses.index(min(losses))
        out[i : i + 2] = [joined(out[i], out[i + 1])]
        del losses[i]
        if len(merged(out[max(0, i - 1) : i + 2])) < len(out[max(0, i - 1) : i + 2]):
            out = merged(out)
            losses = [_loss(a, b) for a, b in itertools.pairwise(out)]
            continue
        if i > 0:
            losses[i - 1] = _loss(out[i - 1], out[i])
        if i < len(losses):
            losses[i] = _loss(out[i], out[i + 1])
    return out
