"""From the log to the optimizer's inputs: the charging needs in force and a site's price curve.

The site actor folds ``needs/<station>`` and ``prices/<site>`` events with :func:`fold_need` and
turns what it holds into :class:`~actors.sites.optimizer.Need`s and
:class:`~actors.sites.optimizer.Price`s with :func:`need_of` and :func:`prices_of`; the API reads the
same streams back with the same fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from actors.events.needs import ChargingNeedsCleared, ChargingNeedsSet, SitePricesSet
from actors.events.registry import Event
from actors.sites.model import ConnectorId, Site
from actors.sites.optimizer import Need, Price


def fold_need(held: Mapping[int, ChargingNeedsSet], event: Event) -> dict[int, ChargingNeedsSet]:
    """One station's needs in force by connector after ``event`` (other events change nothing)."""
    out = dict(held)
    if isinstance(event, ChargingNeedsSet):
        out[event.connector] = event
    elif isinstance(event, ChargingNeedsCleared):
        out.pop(event.connector, None)
    return out


def needs_in_force(events: Iterable[Event]) -> dict[int, ChargingNeedsSet]:
    held: dict[int, ChargingNeedsSet] = {}
    for event in events:
        held = fold_need(held, event)
    return held


def need_of(event: ChargingNeedsSet, site: Site) -> Need:
    """The optimizer's need for ``event`` on ``site``: the connector's phases from the site's
    settings, its current capped by the connector's own maximum, the site's ``min_current`` unless
    the need gave one."""
    connector = ConnectorId(event.station, event.connector)
    settings = site.settings_of(connector)
    cap = event.max_current if settings.max_current is None else min(event.max_current, settings.max_current)
    return Need(
        connector,
        event.energy_wh,
        datetime.fromisoformat(event.departure),
        cap,
        settings.phases,
        site.min_current if event.min_current is None else event.min_current,
    )


def prices_of(event: SitePricesSet) -> tuple[Price, ...]:
    return tuple(Price(datetime.fromisoformat(step["start"]), float(step["price"])) for step in event.prices)
