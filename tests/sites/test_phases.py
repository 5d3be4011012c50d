"""Phases learned from meter values: a vehicle seen drawing on one phase is counted (and allocated) on
that phase only, until its transaction ends; per-phase sums stay within the limits whatever the
vehicles draw on (a hypothesis property over the view, the decision and the allocation)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events.station import MeterSampled
from actors.sites import ConnectorId, ConnectorSettings, Member, Pacing, Site
from actors.sites.decide import decide
from actors.sites.view import GridMeter, SiteView
from tests.sites.transactions import started, stopped

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
EPS = 1e-6


def site(stations: int, limit: float = 32.0, **more: object) -> Site:
    names = tuple(f"CP-{i}" for i in range(1, stations + 1))
    return Site("depot", names, max_current=limit, meter="grid", pacing=Pacing(), **more)  # type: ignore[arg-type]


def per_phase(l1: float, l2: float, l3: float) -> MeterSampled:
    samples = [
        {"measurand": "Current.Import", "phase": f"L{n}", "value": v, "unit": "A"}
        for n, v in ((1, l1), (2, l2), (3, l3))
    ]
    return MeterSampled(connector=1, transaction_id=None, samples=samples)


def test_a_single_phase_car_is_counted_on_its_phase_only() -> None:
    view = SiteView(site(3))
    view.meter = GridMeter((0.0, 0.0, 0.0), NOW, False)
    for i in (1, 2, 3):
        view.apply(f"station/CP-{i}", started(i), NOW)
    view.apply("station/CP-1", per_phase(16.0, 0.2, 0.0), NOW)  # a car on L1 only
    decision = decide(view, NOW, {})
    assert {d.connector.station: d.phases for d in decision.demands} == {
        "CP-1": (1,),
        "CP-2": (1, 2, 3),
        "CP-3": (1, 2, 3),
    }
    assert decision.targets[ConnectorId("CP-1", 1)] == 10.6  # L1 shared by three (32 / 3)
    # the car switches to three phases: from its first sample there it is counted on all three
    view.apply("station/CP-1", per_phase(10.0, 10.0, 10.0), NOW)
    assert decide(view, NOW, {}).demands[0].phases == (1, 2, 3)
    view.apply("station/CP-1", per_phase(10.0, 0.0, 0.0), NOW)
    assert decide(view, NOW, {}).demands[0].phases == (1, 2, 3)  # never unlearned in a transaction
    # a new transaction starts over; so does a resumed view
    view.apply("station/CP-1", stopped(1), NOW)
    view.apply("station/CP-1", started(4), NOW)
    assert decide(view, NOW, {}).demands[0].phases == (1, 2, 3)
    view.apply("station/CP-2", per_phase(0.0, 0.0, 13.0), NOW)
    again = SiteView.from_data(view.site, view.as_data())
    assert again.connectors[ConnectorId("CP-2", 1)].drawn == (3,)


def test_a_connector_configured_on_fewer_phases_keeps_them() -> None:
    wired = {Member("CP-1"): ConnectorSettings(phases=(2,))}
    view = SiteView(site(1, connectors=wired))
    view.meter = GridMeter((0.0, 0.0, 0.0), NOW, False)
    view.apply("station/CP-1", started(1), NOW)
    view.apply("station/CP-1", per_phase(16.0, 0.0, 0.0), NOW)  # the station's L1 is the site's L2
    assert decide(view, NOW, {}).demands[0].phases == (2,)


@settings(max_examples=150, deadline=None)
@given(
    st.floats(12, 100),
    st.lists(st.sets(st.sampled_from([1, 2, 3]), min_size=1), min_size=1, max_size=8),
    st.tuples(st.floats(0, 40), st.floats(0, 40), st.floats(0, 40)),
    st.lists(st.floats(0, 32), min_size=8, max_size=8),
)
def test_per_phase_sums_stay_within_the_limit_whatever_the_cars_draw_on(
    limit: float, cars: list[set[int]], grid: tuple[float, float, float], draws: list[float]
) -> None:
    view = SiteView(site(len(cars), limit))
    view.meter = GridMeter(grid, NOW, False)
    for i, phases in enumerate(cars, 1):
        view.apply(f"station/CP-{i}", started(i), NOW)
        amps = max(draws[i - 1], 1.0)
        l1, l2, l3 = (amps if p in phases else 0.0 for p in (1, 2, 3))
        view.apply(f"station/CP-{i}", per_phase(l1, l2, l3), NOW)
    sent = {ConnectorId(f"CP-{i}", 1): 32.0 for i in range(1, len(cars) + 1)}
    decision = decide(view, NOW, sent)
    assert decision.allocation is not None and decision.non_ev is not None
    totals = list(decision.non_ev)
    for demand in decision.demands:
        assert set(demand.phases) == cars[int(demand.connector.station[3:]) - 1]
        for phase, amps in enumerate(decision.allocation.per_phase(demand.connector), 1):
            totals[phase - 1] = (totals[phase - 1] or 0.0) + amps
            if phase not in demand.phases:
                assert amps == 0.0
    for phase in range(3):
        non_ev = decision.non_ev[phase] or 0.0
        assert (totals[phase] or 0.0) <= max(limit, non_ev) + EPS
