"""Limits by source: who may cap a site, and which cap is in force at an instant.

Four sources, in a fixed priority: the grid operator, the site operator, the fleet operator and the
driver. Each sets at most one limit per site, in A (per phase) or W (over all phases), as one value
or as a schedule of values, valid from and until given instants. The limit in force at an instant is
the **minimum** over the site's own configured limit and every source whose limit applies then, per
unit; so a source can only ever lower what is in force, and a lower-priority source never raises
what a higher one set. Priority decides which source is reported as binding when two set the same
value (the higher one), and the configured limit (the connection itself) ranks above all.

To say which limit binds across units, W are read as A on three phases at the site's voltage.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from actors.charging import Unit


class Source(enum.Enum):
    """A party that may limit a site; the order of the members is their priority, highest first."""

    GRID_OPERATOR = "grid_operator"
    SITE_OPERATOR = "site_operator"
    FLEET_OPERATOR = "fleet_operator"
    DRIVER = "driver"

    @property
    def rank(self) -> int:
        """0 for the highest priority."""
        return _RANKS[self]


_RANKS = {source: rank for rank, source in enumerate(Source)}


class LimitError(ValueError):
    """A limit that cannot be set as given."""


@dataclass(frozen=True, slots=True)
class SourceLimit:
    """One source's limit on a site: ``value``, or a ``schedule`` of (from, value) steps each lasting
    until the next, in ``unit``; applies from ``valid_from`` (inclusive) until ``valid_until``
    (exclusive), either open when None. Before a schedule's first step it does not apply."""

    source: Source
    unit: Unit
    value: float | None = None
    schedule: tuple[tuple[datetime, float], ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (not self.schedule):
            raise LimitError("give either a value or a schedule")
        values = [self.value] if self.value is not None else [v for _, v in self.schedule]
        if any(not v >= 0 or v == float("inf") for v in values):
            raise LimitError(f"a limit must be a finite number >= 0, got {values}")
        starts = [start for start, _ in self.schedule]
        if starts != sorted(set(starts)):
            raise LimitError("schedule steps must start at distinct instants, in order")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise LimitError("valid_until must be after valid_from")

    def at(self, moment: datetime) -> float | None:
        """The value at ``moment``, or None when the limit does not apply then."""
        if self.valid_from is not None and moment < self.valid_from:
            return None
        if self.valid_until is not None and moment >= self.valid_until:
            return None
        if self.value is not None:
            return self.value
        found = None
        for start, value in self.schedule:
            if start > moment:
                break
            found = value
        return found


@dataclass(frozen=True, slots=True)
class Bound:
    """A limit in force and where it comes from (``source`` None: the site's configuration)."""

    value: float
    unit: Unit
    source: Source | None


@dataclass(frozen=True, slots=True)
class LimitsInForce:
    current: Bound | None  # A per phase
    power: Bound | None  # W over all phases
    binding: Bound | None  # the lower of the two, W read as A on three phases


def _lowest(candidates: Iterable[Bound]) -> Bound | None:
    def key(bound: Bound) -> tuple[float, int]:
        return bound.value, -1 if bound.source is None else bound.source.rank

    return min(candidates, key=key, default=None)


def limits_in_force(
    limits: Iterable[SourceLimit],
    moment: datetime,
    *,
    max_current: float | None = None,
    max_power: float | None = None,
    voltage: float = 230.0,
) -> LimitsInForce:
    """The site's limits at ``moment``: ``max_current`` and ``max_power`` are its configured ones."""
    by_unit: dict[Unit, list[Bound]] = {Unit.A: [], Unit.W: []}
    if max_current is not None:
        by_unit[Unit.A].append(Bound(max_current, Unit.A, None))
    if max_power is not None:
        by_unit[Unit.W].append(Bound(max_power, Unit.W, None))
    for limit in limits:
        value = limit.at(moment)
        if value is not None:
            by_unit[limit.unit].append(Bound(value, limit.unit, limit.source))
    current, power = _lowest(by_unit[Unit.A]), _lowest(by_unit[Unit.W])
    binding = current
    if power is not None:
        as_amperes = Bound(power.value / (3 * voltage), Unit.A, power.source)
        if current is None or _lowest([current, as_amperes]) is as_amperes:
            binding = power
    return LimitsInForce(current, power, binding)
