"""A round's planning step: the optimizer's plan for connectors with needs, fitted under the round's
allocation; connectors without needs keep (and take the room left by) the instantaneous allocation.
The guarantee is held as a property: a planned connector gets its plan or is paused, every phase stays
within the site's limit, a profile's periods never rise."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events.needs import ChargingNeedsSet, SitePricesSet
from actors.events.station import EVChargingNeedsNotified, MeterSampled, TransactionStopped
from actors.sites import Circuit, ConnectorId, ConnectorSettings, Member, Optimizer, Pacing, Planning, Site
from actors.sites.decide import decide
from actors.sites.planning import plan_round
from actors.sites.view import ConnectorState, GridMeter, SiteView

NOW = datetime(2026, 11, 27, 18, 5, tzinfo=UTC)
EPS = 1e-6


def depot(
    mode: Optimizer = Optimizer.FASTEST, stations: int = 2, limit: float = 32.0, **more: object
) -> Site:
    names = tuple(f"CP-{i}" for i in range(1, stations + 1))
    return Site(
        "depot", names, max_current=limit, meter="grid", pacing=Pacing(), planning=Planning(mode), **more
    )  # type: ignore[arg-type]


def view_of(site: Site, non_ev: float = 0.0) -> SiteView:
    view = SiteView(site)
    for i, station in enumerate(site.stations, 1):
        view.connectors[ConnectorId(station, 1)] = ConnectorState("Charging", i, since=NOW)
    view.meter = GridMeter((non_ev, non_ev, non_ev), NOW, False)
    return view


def need(station: str, energy: float, hours: float, max_current: float = 32.0) -> ChargingNeedsSet:
    departure = (NOW + timedelta(hours=hours)).isoformat()
    return ChargingNeedsSet(
        station=station,
        connector=1,
        energy_wh=energy,
        departure=departure,
        max_current=max_current,
        source="api",
    )


def prices(*steps: tuple[int, float]) -> SitePricesSet:
    start = NOW.replace(minute=0)
    return SitePricesSet(
        site="depot",
        prices=[{"start": (start + timedelta(hours=h)).isoformat(), "price": p} for h, p in steps],
    )


def test_a_cheapest_car_waits_and_the_other_takes_its_room() -> None:
    view = view_of(depot(Optimizer.CHEAPEST))
    view.needs[ConnectorId("CP-1", 1)] = need("CP-1", 20_000, 8)
    view.prices = prices((0, 0.40), (2, 0.10))
    planned = plan_round(view, NOW, decide(view, NOW, {}), valid_for=300)
    assert planned.decision.targets == {ConnectorId("CP-1", 1): 0.0, ConnectorId("CP-2", 1): 32.0}
    record = planned.record
    assert record is not None and record["mode"] == "cheapest"
    [cp1] = record["connectors"]
    assert cp1["planned"] == 0.0 and cp1["target"] == 0.0 and cp1["unmet_wh"] == 0.0
    assert cp1["currents"][:8] == [0.0] * 8  # nothing in the two dear hours (quarter-hours from 18:00)
    assert cp1["periods"] == [[0, 0.0]]


def test_a_fastest_car_gets_its_plan_and_steps_down_within_the_profile() -> None:
    view = view_of(depot(Optimizer.FASTEST, stations=1))
    # 3.5 kWh at 16 A on three phases is about 19 minutes: the plan stops inside the second slot
    view.needs[ConnectorId("CP-1", 1)] = need("CP-1", 3_500, 4, max_current=16)
    planned = plan_round(view, NOW, decide(view, NOW, {}), valid_for=900)
    assert planned.decision.targets == {ConnectorId("CP-1", 1): 16.0}
    periods = planned.periods[ConnectorId("CP-1", 1)]
    assert periods[0] == (0, 16.0)
    assert all(b[1] <= a[1] for a, b in itertools.pairwise(periods))
    assert [offset % 60 for offset, _ in periods] == [0] * len(periods)  # aligned to whole minutes


def test_without_an_optimizer_or_a_need_the_allocation_stands() -> None:
    for site, with_need in ((depot(Optimizer.OFF), True), (depot(), False)):
        view = view_of(site)
        if with_need:
            view.needs[ConnectorId("CP-1", 1)] = need("CP-1", 10_000, 4)
        decision = decide(view, NOW, {})
        planned = plan_round(view, NOW, decision, valid_for=300)
        assert planned.decision is decision and planned.record is None


def test_a_need_past_its_departure_or_delivered_is_not_planned() -> None:
    view = view_of(depot())
    key = ConnectorId("CP-1", 1)
    view.needs[key] = need("CP-1", 10_000, -1)
    assert plan_round(view, NOW, decide(view, NOW, {}), valid_for=300).record is None
    # a need of 10 kWh of which the register counted 10 kWh since it was set
    view.needs[key], view.baselines[key] = need("CP-1", 10_000, 4), 5_000.0
    view.connectors[key].energy = 15_000.0
    assert view.remaining(key) == 0.0
    assert plan_round(view, NOW, decide(view, NOW, {}), valid_for=300).record is None


def test_the_energy_register_counts_down_a_need() -> None:
    view = SiteView(depot())
    key = ConnectorId("CP-1", 1)
    view.apply("needs/CP-1", need("CP-1", 10_000, 4), NOW)
    for wh in (2_000.0, 5_000.0):
        sample = {"measurand": "Energy.Active.Import.Register", "value": wh, "unit": "Wh"}
        view.apply("station/CP-1", MeterSampled(connector=1, transaction_id=1, samples=[sample]), NOW)
    assert view.remaining(key) == 7_000.0  # counted from the first reading after the need
    again = SiteView.from_data(view.site, view.as_data())
    assert again.remaining(key) == 7_000.0 and again.needs == view.needs


def test_a_2_0_1_ev_states_its_need_until_its_transaction_ends() -> None:
    view = SiteView(depot())
    notified = EVChargingNeedsNotified(
        evse=1,
        connector=1,
        transfer_mode="DC",
        departure=(NOW + timedelta(hours=3)).isoformat(),
        energy_wh=30_000.0,
        min_current_a=None,
        max_current_a=None,
        min_power_w=None,
        max_power_w=22_080.0,
        status="Accepted",
    )
    assert view.apply("station/CP-1", notified, NOW)
    found = view.needs[ConnectorId("CP-1", 1)]
    assert (found.energy_wh, found.max_current, found.source) == (30_000.0, 32.0, "ocpp")  # 22,080 W / 690 V
    no_departure = replace(notified, departure=None)
    assert not SiteView(depot()).apply("station/CP-2", no_departure, NOW)
    view.connectors[ConnectorId("CP-1", 1)] = ConnectorState("Charging", 7, since=NOW)
    stopped = TransactionStopped(
        transaction_id=7,
        connector=1,
        known=True,
        id_token=None,
        start_id_token=None,
        meter_stop_wh=1.0,
        energy_wh=1.0,
        timestamp=NOW.isoformat(),
        reason="EVDisconnected",
        closed_by="station",
    )
    view.apply("station/CP-1", stopped, NOW)
    assert view.needs == {}


@settings(max_examples=40, deadline=None)
@given(
    st.floats(20, 80),
    st.lists(
        st.tuples(
            st.sampled_from([(1, 2, 3), (1,), (2,), (3,)]),
            st.none() | st.tuples(st.floats(500, 60_000), st.floats(0.3, 12)),
        ),
        min_size=1,
        max_size=5,
    ),
    st.floats(0, 30),
    st.sampled_from([Optimizer.FASTEST, Optimizer.CHEAPEST]),
    st.none() | st.floats(5_000, 40_000),
)
def test_a_plan_never_breaks_the_allocation(
    limit: float,
    connectors: list[tuple[tuple[int, ...], tuple[float, float] | None]],
    non_ev: float,
    mode: Optimizer,
    peak: float | None,
) -> None:
    stations = len(connectors)
    settings_of = {Member(f"CP-{i}"): ConnectorSettings(phases=p) for i, (p, _) in enumerate(connectors, 1)}
    site = depot(mode, stations, limit, connectors=settings_of)
    site = replace(site, planning=Planning(mode, peak))
    view = view_of(site, non_ev)
    view.prices = prices((0, 0.3), (3, 0.1), (6, 0.25))
    for i, (_, wanted) in enumerate(connectors, 1):
        if wanted is not None:
            view.needs[ConnectorId(f"CP-{i}", 1)] = need(f"CP-{i}", *wanted)
    decision = decide(view, NOW, {})
    planned = plan_round(view, NOW, decision, valid_for=300)
    targets = planned.decision.targets
    assert set(targets) == set(decision.targets)
    held = {}
    if planned.record is not None and "connectors" in planned.record:
        held = {ConnectorId(c["station"], c["connector"]): c["planned"] for c in planned.record["connectors"]}
    on_phase = [non_ev] * 3
    for key, amps in targets.items():
        assert amps == 0 or amps >= site.min_current - EPS
        if key in planned.periods:
            assert amps in (0.0, held[key])  # its plan, or paused where the plan does not fit
            periods = planned.periods[key]
            assert periods[0][1] <= amps + EPS
            assert all(b[1] <= a[1] + EPS for a, b in itertools.pairwise(periods))
        for phase in site.settings_of(key).phases:
            on_phase[phase - 1] += amps
    for phase in range(3):
        assert on_phase[phase] <= max(limit, non_ev) + EPS
        if non_ev < limit:
            assert on_phase[phase] <= limit + EPS


def test_a_plan_fits_the_circuits_so_the_round_pauses_none_of_it() -> None:
    """Two cars on a 16 A circuit and one on the site under 40 A, all with needs: the plan sees the
    circuit, so every planned current is admitted as planned (none is paused by the round's second
    allocation for a circuit it did not know of) and the connection is used whole."""
    row = Circuit("row", max_current=16, members=(Member("CP-1"), Member("CP-2")))
    view = view_of(depot(Optimizer.FASTEST, stations=3, limit=40, circuits=(row,)))
    for station in ("CP-1", "CP-2", "CP-3"):
        view.needs[ConnectorId(station, 1)] = need(station, 60_000, 8)
    planned = plan_round(view, NOW, decide(view, NOW, {}), valid_for=300)
    record = planned.record
    assert record is not None and len(record["connectors"]) == 3
    assert all(c["target"] == c["planned"] for c in record["connectors"])
    targets = planned.decision.targets
    assert targets[ConnectorId("CP-1", 1)] + targets[ConnectorId("CP-2", 1)] <= 16 + EPS
    assert sum(targets.values()) >= 40 - 0.3  # floored to 0.1 A each
