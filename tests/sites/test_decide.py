"""A round's decision from the folded view: the non-EV load it derives from the grid meter, the
failsafe on a stale meter, and the view's round trip through the round event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events.modbus import ModbusDeviceStale, ModbusReading
from actors.events.site import SiteLimitSet
from actors.events.station import ConnectorStatusChanged, MeterSampled
from actors.sites import ConnectorId, Pacing, Site
from actors.sites.decide import decide, failsafe_excess
from actors.sites.view import SiteView
from tests.sites.transactions import started

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
EPS = 1e-6


def site(limit: float, stations: int, failsafe: float = 6.0) -> Site:
    names = tuple(f"S{i}" for i in range(stations))
    return Site("depot", names, max_current=limit, meter="grid", failsafe_current=failsafe, pacing=Pacing())


def reading(l1: float, l2: float, l3: float) -> ModbusReading:
    samples = [
        {"name": f"i{n}", "value": v, "unit": "A", "measurand": "Current.Import", "phase": f"L{n}"}
        for n, v in ((1, l1), (2, l2), (3, l3))
    ]
    return ModbusReading(latency_s=0.0, samples=samples, raw=[])


def sampled(amps: float) -> MeterSampled:
    sample = {"measurand": "Current.Import", "phase": None, "value": amps, "unit": "A"}
    return MeterSampled(connector=1, transaction_id=None, samples=[sample])


@settings(max_examples=150, deadline=None)
@given(
    st.floats(20, 100),
    st.lists(st.tuples(st.floats(0, 32), st.floats(0, 1)), min_size=1, max_size=6),
    st.tuples(st.floats(0, 40), st.floats(0, 40), st.floats(0, 40)),
)
def test_with_measured_cars_the_targets_and_the_real_other_load_fit_the_limit(
    limit: float, cars: list[tuple[float, float]], other: tuple[float, float, float]
) -> None:
    """Cars draw at most what they were sent and say what they draw: the round never plans more
    than the limit less the real non-EV load (unless that alone is over the limit)."""
    view = SiteView(site(limit, len(cars)))
    sent = {}
    draws = []
    for i, (was_sent, share) in enumerate(cars):
        station = f"S{i}"
        view.apply(f"station/{station}", started(i + 1), NOW)
        draw = was_sent * share
        view.apply(f"station/{station}", sampled(draw), NOW)
        sent[ConnectorId(station, 1)] = was_sent
        draws.append(draw)
    view.apply("meter/grid", reading(*(o + sum(draws) for o in other)), NOW)
    decision = decide(view, NOW, sent)
    assert decision.non_ev is not None and not decision.failsafe
    for phase in range(3):
        assert abs(decision.non_ev[phase] - other[phase]) < EPS
        if other[phase] <= limit:
            assert sum(decision.targets.values()) + other[phase] <= limit + EPS


def test_unmeasured_cars_count_as_drawing_what_they_were_sent() -> None:
    view = SiteView(site(32.0, 2))
    for i in range(2):
        view.apply(f"station/S{i}", started(i + 1), NOW)
    view.apply("meter/grid", reading(24.0, 24.0, 24.0), NOW)
    decision = decide(view, NOW, {ConnectorId("S0", 1): 10.0, ConnectorId("S1", 1): 10.0})
    assert decision.non_ev == (4.0, 4.0, 4.0)
    assert decision.targets == {ConnectorId("S0", 1): 14.0, ConnectorId("S1", 1): 14.0}


def test_a_stale_or_silent_meter_gives_the_failsafe_and_over_is_measured() -> None:
    view = SiteView(site(32.0, 1, failsafe=8.0))
    view.apply("station/S0", started(1), NOW)
    assert decide(view, NOW, {}).failsafe  # never read
    view.apply("meter/grid", reading(40.0, 10.0, 10.0), NOW)
    fresh = decide(view, NOW, {})
    assert not fresh.failsafe and fresh.over == 8.0
    late = decide(view, NOW + timedelta(seconds=Pacing().meter_timeout + 1), {})
    assert late.failsafe and late.targets == {ConnectorId("S0", 1): 8.0}
    view.apply("meter/grid", ModbusDeviceStale(missed=3), NOW)
    assert decide(view, NOW, {}).failsafe


statuses = st.sampled_from(["Available", "Preparing", "Charging", "SuspendedEVSE", "Finishing"])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("status"), st.integers(0, 2), statuses),
            st.tuples(st.just("start"), st.integers(0, 2), st.integers(1, 9)),
            st.tuples(st.just("sample"), st.integers(0, 2), st.floats(0, 32)),
            st.tuples(st.just("meter"), st.floats(0, 60), st.floats(0, 60)),
            st.tuples(st.just("limit"), st.sampled_from(["grid_operator", "driver"]), st.floats(0, 60)),
        ),
        max_size=25,
    )
)
def test_the_view_survives_the_round_event(steps: list[tuple[object, object, object]]) -> None:
    """What a restarted actor reads back from its last round is the view that round had."""
    view = SiteView(site(32.0, 3))
    at = NOW
    for kind, a, b in steps:
        at += timedelta(seconds=1)
        if kind == "status":
            event = ConnectorStatusChanged(
                connector=1,
                status=str(b),
                error_code="NoError",
                info=None,
                vendor_error_code=None,
                vendor_id=None,
                timestamp=None,
            )
            view.apply(f"station/S{a}", event, at)
        elif kind == "start":
            view.apply(f"station/S{a}", started(int(b)), at)  # type: ignore[call-overload]
        elif kind == "sample":
            view.apply(f"station/S{a}", sampled(float(b)), at)  # type: ignore[arg-type]
        elif kind == "meter":
            view.apply("meter/grid", reading(float(a), float(b), 0.0), at)  # type: ignore[arg-type]
        else:
            view.apply("site/depot", SiteLimitSet(source=str(a), unit="A", value=float(b)), at)  # type: ignore[arg-type]
    assert SiteView.from_data(view.site, view.as_data()) == view


def test_failsafe_currents_of_more_connectors_than_configured_are_flagged() -> None:
    """The configuration counts one connector per station; stations found at run time to have more
    can make the failsafe exceed the limit, which the site says."""
    view = SiteView(site(32.0, 2, failsafe=8.0))
    assert failsafe_excess(view) is None

    def seen(station: str, connector: int) -> None:
        status = ConnectorStatusChanged(
            connector=connector,
            status="Available",
            error_code="NoError",
            info=None,
            vendor_error_code=None,
            vendor_id=None,
            timestamp=None,
        )
        view.apply(f"station/{station}", status, NOW)

    for station in ("S0", "S1"):
        seen(station, 1)
        seen(station, 2)
    assert failsafe_excess(view) is None  # 4 x 8 A fits 32 A
    seen("S1", 3)
    assert failsafe_excess(view) == "5 connectors x 8 A failsafe = 40 A on a phase, above max_current (32 A)"
