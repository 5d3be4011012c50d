"""Piecewise-constant limits on a time line, and the operations on them that never raise a limit.

A :class:`Span` holds a limit (an exact :class:`~fractions.Fraction`; None is no limit, above every
number) and a phase count from ``start`` until ``end``, in integer time units chosen by the caller
(microseconds for the composite schedule, seconds for trimming). Lists of spans are contiguous and
sorted. Every operation here that joins time takes the minimum of what it joins, limit and phases
alike, so nothing it returns allows more than its input at any instant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import overload

Limit = Fraction | None


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    limit: Limit
    phases: int


def lower(a: Limit, b: Limit) -> Limit:
    """The lower of two limits; None (no limit) is above every number."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def merged(spans: Iterable[Span]) -> list[Span]:
    """``spans`` with neighbours of equal limit and phases joined."""
    out: list[Span] = []
    for span in spans:
        if out and (out[-1].limit, out[-1].phases) == (span.limit, span.phases) and out[-1].end == span.start:
            out[-1] = Span(out[-1].start, span.end, span.limit, span.phases)
        else:
            out.append(span)
    return out


def joined(a: Span, b: Span) -> Span:
    """Two neighbouring spans as one, at the lower of their limits and phases."""
    return Span(a.start, b.end, lower(a.limit, b.limit), min(a.phases, b.phases))


def aligned(spans: Sequence[Span], grid: int) -> list[Span]:
    """``spans`` with every boundary moved onto a multiple of ``grid`` (the end of the last excepted).

    A grid cell that two or more spans share takes the lowest of their limits, so a boundary moves
    earlier where the limit falls and later where it rises: never a limit raised.
    """
    cells: list[tuple[int, int, Limit, int]] = []  # (first cell, end cell, limit, phases)

    def add(lo: int, hi: int, limit: Limit, phases: int) -> None:
        if lo >= hi:
            return
        if cells and lo < cells[-1][1]:  # a partial cell shared with the span before
            first, end, was, was_phases = cells.pop()
            if end - 1 > first:
                cells.append((first, end - 1, was, was_phases))
            cells.append((lo, lo + 1, lower(was, limit), min(was_phases, phases)))
            add(lo + 1, hi, limit, phases)
            return
        cells.append((lo, hi, limit, phases))

    for span in spans:
        first_full = -(-span.start // grid)
        end_full = span.end // grid
        if span.start % grid:
            add(span.start // grid, span.start // grid + 1, span.limit, span.phases)
        add(first_full, end_full, span.limit, span.phases)
        if span.end % grid and span.end // grid >= first_full:
            add(span.end // grid, span.end // grid + 1, span.limit, span.phases)
    if not spans:
        return []
    last_end = spans[-1].end
    return merged(
        Span(first * grid, min(end * grid, last_end), limit, phases) for first, end, limit, phases in cells
    )


@overload
def floored(limit: Fraction, step: Fraction) -> Fraction: ...
@overload
def floored(limit: None, step: Fraction) -> None: ...
@overload
def floored(limit: Limit, step: Fraction) -> Limit: ...
def floored(limit: Limit, step: Fraction) -> Limit:
    """``limit`` rounded down to a multiple of ``step``."""
    if limit is None:
        return None
    return math.floor(limit / step) * step


def as_decimal(value: Fraction, step: Decimal) -> Decimal:
    """An exact multiple of ``step`` (a Fraction already floored to it) as a Decimal with step's exponent."""
    return (Decimal(int(value / Fraction(step))) * step).quantize(step)
