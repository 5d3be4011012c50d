"""Events of charging needs and prices: what the optimizer plans from.

- ``needs/<station>``: :class:`ChargingNeedsSet` and :class:`ChargingNeedsCleared`, one connector's
  need for energy by a departure. Their own stream, not ``station/<id>``: only the station actor
  appends there (with an expected version), and a need can be set while the station is offline.
- ``prices/<site>``: :class:`SitePricesSet`, the site's price curve; the last one is in force.

Times are RFC 3339 strings with their offset (as the API took them); energy in Wh, currents in A per
phase. ``source`` says who set a need: ``"api"`` today, the 2.0.1 NotifyEVChargingNeeds later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from actors.events.registry import OMITTED_WHEN_NONE, Event, register


def needs_stream(station: str) -> str:
    return f"needs/{station}"


def prices_stream(site: str) -> str:
    return f"prices/{site}"


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingNeedsSet(Event):
    """The vehicle on ``connector`` (on ``evse`` for 2.0.1) needs ``energy_wh`` by ``departure``."""

    TYPE: ClassVar[str] = "ChargingNeedsSet"
    station: str
    connector: int
    evse: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    energy_wh: float
    departure: str
    max_current: float
    min_current: float | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # None: the site's
    source: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingNeedsCleared(Event):
    TYPE: ClassVar[str] = "ChargingNeedsCleared"
    station: str
    connector: int
    evse: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    source: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SitePricesSet(Event):
    """The site's price curve: ``prices`` are steps ``{"start": RFC 3339, "price": per kWh}`` in
    order, each holding until the next; it replaces the curve set before."""

    TYPE: ClassVar[str] = "SitePricesSet"
    site: str
    prices: list[dict[str, Any]]
    currency: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
