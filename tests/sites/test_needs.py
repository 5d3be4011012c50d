"""From needs and prices events to the optimizer's inputs: the fold, the site's settings, the curve."""

from __future__ import annotations

from datetime import UTC, datetime

from actors.events.needs import ChargingNeedsCleared, ChargingNeedsSet, SitePricesSet
from actors.events.station import StationConnected
from actors.sites.model import ConnectorId, ConnectorSettings, Member, Site
from actors.sites.needs import need_of, needs_in_force, prices_of
from actors.sites.optimizer import Need, Price


def needs_set(connector: int, energy: float, min_current: float | None = None) -> ChargingNeedsSet:
    return ChargingNeedsSet(
        station="CP-1",
        connector=connector,
        energy_wh=energy,
        departure="2026-11-28T07:00:00Z",
        max_current=32.0,
        min_current=min_current,
        source="api",
    )


def test_the_last_need_per_connector_holds_until_cleared():
    events = [
        needs_set(1, 10_000),
        needs_set(2, 5_000),
        StationConnected(conn=1, subprotocol="ocpp1.6", remote=None),
        needs_set(1, 20_000),
        ChargingNeedsCleared(station="CP-1", connector=2, source="api"),
    ]
    assert needs_in_force(events) == {1: needs_set(1, 20_000)}


def test_a_need_takes_the_sites_phases_cap_and_minimum():
    site = Site(
        "depot",
        ("CP-1",),
        max_current=63,
        min_current=8,
        connectors={Member("CP-1", 1): ConnectorSettings(phases=(2,), max_current=16)},
    )
    departure = datetime(2026, 11, 28, 7, tzinfo=UTC)
    assert need_of(needs_set(1, 10_000), site) == Need(ConnectorId("CP-1", 1), 10_000, departure, 16, (2,), 8)
    assert need_of(needs_set(2, 10_000, min_current=6), site) == Need(
        ConnectorId("CP-1", 2), 10_000, departure, 32, (1, 2, 3), 6
    )


def test_prices_become_steps():
    event = SitePricesSet(
        site="depot",
        prices=[
            {"start": "2026-11-28T00:00:00Z", "price": 0.3},
            {"start": "2026-11-28T02:00:00+01:00", "price": 0.1},
        ],
    )
    assert prices_of(event) == (
        Price(datetime(2026, 11, 28, tzinfo=UTC), 0.3),
        Price(datetime(2026, 11, 28, 1, tzinfo=UTC), 0.1),
    )
