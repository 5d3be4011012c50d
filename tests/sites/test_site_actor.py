"""The site actor over a real in-memory store: it follows the log, decides rounds, logs each one, acts
through its port, secures stations with the failsafe, goes to failsafe on a stale meter and resumes
from its last round after a restart. (End to end with real stations and a real meter:
tests/integration/test_site_serve.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio

from actors.events import Event, events_of, new_events
from actors.events.modbus import ModbusDeviceStale, ModbusReading
from actors.events.needs import ChargingNeedsCleared, ChargingNeedsSet, SitePricesSet
from actors.events.site import SiteLimitCleared, SiteLimitSet, SiteRound
from actors.events.station import StationBooted, StationConnected
from actors.site import InspectSite, SetSiteLimit, SiteActor, SiteStats
from actors.sites import ConnectorId, ConnectorSettings, Member, Optimizer, Pacing, Planning, Site
from actors.sites.control import ControlFailed, Setpoint
from adapters.stores import open_store
from core.actor import ActorRef
from core.store import EventStore
from core.supervisor import ChildSpec, Runtime, open_supervisor
from tests.sites.transactions import started, stopped

PACING = Pacing(round_interval=0.5, debounce=0.05, deadband=1.0, min_interval=0.0, meter_timeout=30.0)
SITE = Site("depot", ("CP-1", "CP-2"), max_current=32.0, meter="grid", failsafe_current=6.0, pacing=PACING)


class Recorded:
    """A ChargingControl that records what it is asked; ``refuse`` makes a station fail."""

    def __init__(self) -> None:
        self.setpoints: list[Setpoint] = []
        self.secured: list[tuple[str, float]] = []
        self.refuse: set[str] = set()

    async def apply(self, setpoint: Setpoint) -> None:
        await trio.lowlevel.checkpoint()
        if setpoint.connector.station in self.refuse:
            raise ControlFailed("refused")
        self.setpoints.append(setpoint)

    async def secure(self, station: str, amps: float) -> None:
        await trio.lowlevel.checkpoint()
        self.secured.append((station, amps))

    def last(self, station: str) -> float | None:
        found = [s.amps for s in self.setpoints if s.connector == ConnectorId(station, 1)]
        return found[-1] if found else None


def _now() -> datetime:
    return datetime.now(UTC)


async def append(store: EventStore, stream: str, *events: Event) -> None:
    await store.append(new_events(stream, list(events), _now()))


def grid(l1: float, l2: float | None = None, l3: float | None = None) -> ModbusReading:
    values = (l1, l1 if l2 is None else l2, l1 if l3 is None else l3)
    samples = [
        {"name": f"current_l{i}", "value": v, "unit": "A", "measurand": "Current.Import", "phase": f"L{i}"}
        for i, v in enumerate(values, 1)
    ]
    return ModbusReading(latency_s=0.01, site="depot", samples=samples, raw=[])


async def rounds(store: EventStore) -> list[SiteRound]:
    found = []
    for record in await store.read_stream("site/depot"):
        found += [e for e in events_of(record) if isinstance(e, SiteRound)]
    return found


async def until(check: Callable[[], Any], limit: float = 20.0) -> None:
    with trio.fail_after(limit):
        while not check():  # noqa: ASYNC110 - the conditions are what a fake port recorded
            await trio.sleep(0.02)


@asynccontextmanager
async def site_actor(
    store: EventStore, control: Recorded, site: Site = SITE
) -> AsyncIterator[tuple[ActorRef[Any], SiteStats]]:
    runtime = Runtime()
    stats = SiteStats()
    async with open_supervisor("sites", runtime) as supervisor:
        ref = supervisor.start_child(
            ChildSpec(
                id="site/depot",
                factory=lambda: SiteActor(site, store, runtime.clock, control, stats),
                kind="site",
            )
        )
        yield ref, stats


@pytest.fixture
async def store() -> AsyncIterator[EventStore]:
    async with open_store("memory://") as opened:
        yield opened


async def test_a_car_that_stops_leaves_its_share_to_the_other(store: EventStore) -> None:
    control = Recorded()
    await append(store, "meter/grid", grid(4.0))
    for station, tx in (("CP-1", 1), ("CP-2", 2)):
        connected = StationConnected(conn=1, subprotocol="ocpp1.6", remote=None)
        await append(store, f"station/{station}", connected)
        await append(store, f"station/{station}", started(tx))
    async with site_actor(store, control):
        # 32 A less 4 A of other load, shared by two
        await until(lambda: control.last("CP-1") == 14.0 and control.last("CP-2") == 14.0)
        assert sorted(control.secured) == [("CP-1", 6.0), ("CP-2", 6.0)]
        assert all(s.transaction in (1, 2) for s in control.setpoints)
        await append(store, "station/CP-1", stopped(1))
        # CP-1's 14 A no longer counts as EV load: the meter reads 18 A until it sees the car go
        await append(store, "meter/grid", grid(4.0 + 14.0))
        await until(lambda: control.last("CP-2") == 28.0)
    logged = await rounds(store)
    assert logged[0].reason == "start"
    last = logged[-1]
    assert [(c["station"], c["target"]) for c in last.connectors] == [("CP-2", 28.0)]
    assert last.non_ev == [4.0, 4.0, 4.0] and last.limits["binding"]["value"] == 32.0
    assert last.position > 0 and not last.failsafe


async def test_a_new_transaction_in_the_same_append_gets_its_own_profile(store: EventStore) -> None:
    """What was sent for a stopped transaction is not in force for the next one on that connector,
    even when the stop and the new start arrive together and the target does not change (here both
    cars are held at their cable's 10 A, far below the site's room)."""
    control = Recorded()
    cables = {Member(station): ConnectorSettings(max_current=10.0) for station in ("CP-1", "CP-2")}
    site = replace(SITE, connectors=cables)
    await append(store, "meter/grid", grid(4.0))
    for station, tx in (("CP-1", 1), ("CP-2", 2)):
        connected = StationConnected(conn=1, subprotocol="ocpp1.6", remote=None)
        await append(store, f"station/{station}", connected)
        await append(store, f"station/{station}", started(tx))
    async with site_actor(store, control, site):
        await until(lambda: control.last("CP-1") == 10.0 and control.last("CP-2") == 10.0)
        await append(store, "station/CP-1", stopped(1), started(3))
        await until(lambda: any(s.transaction == 3 for s in control.setpoints), limit=10.0)
    new = [s for s in control.setpoints if s.transaction == 3]
    assert new[0].connector == ConnectorId("CP-1", 1) and new[0].amps == 10.0


async def test_other_load_rises_and_the_cars_are_cut(store: EventStore) -> None:
    control = Recorded()
    await append(store, "meter/grid", grid(2.0))
    await append(store, "station/CP-1", started(1))
    await append(store, "station/CP-2", started(2))
    async with site_actor(store, control):
        await until(lambda: control.last("CP-1") == 15.0)
        # 2 A + 2 x 15 A of cars; the non-EV load rises by 10 A on L2 only
        await append(store, "meter/grid", grid(32.0, 42.0, 32.0))
        await until(lambda: control.last("CP-1") == 10.0 and control.last("CP-2") == 10.0)
        # a non-EV load that leaves less than two minimums: one car is paused, never starved
        # (cars at 10 A each, 23 A of other load on L2: 9 A left there)
        await append(store, "meter/grid", grid(20.0, 43.0, 20.0))
        await until(lambda: sorted([control.last("CP-1") or 0.0, control.last("CP-2") or 0.0]) == [0.0, 9.0])


async def test_a_stale_meter_gives_the_failsafe_current(store: EventStore) -> None:
    control = Recorded()
    await append(store, "meter/grid", grid(0.0))
    await append(store, "station/CP-1", started(1))
    async with site_actor(store, control) as (ref, _):
        await until(lambda: control.last("CP-1") == 32.0)
        await append(store, "meter/grid", ModbusDeviceStale(missed=3))
        await until(lambda: control.last("CP-1") == 6.0)
        snapshot = await ref.ask(InspectSite, timeout=10)
        assert snapshot["failsafe"] is True and snapshot["meter"]["stale"] is True
    assert (await rounds(store))[-1].failsafe


async def test_a_meter_that_never_read_is_stale_too(store: EventStore) -> None:
    control = Recorded()
    await append(store, "station/CP-1", started(1))
    async with site_actor(store, control):
        await until(lambda: control.last("CP-1") == 6.0)


async def test_limits_by_source_through_the_actor(store: EventStore) -> None:
    control = Recorded()
    await append(store, "meter/grid", grid(0.0))
    await append(store, "station/CP-1", started(1))
    async with site_actor(store, control) as (ref, _):
        await until(lambda: control.last("CP-1") == 32.0)
        grid_limit = SiteLimitSet(source="grid_operator", unit="A", value=20.0)
        await ref.ask(lambda reply: SetSiteLimit(grid_limit, reply), timeout=10)
        await until(lambda: control.last("CP-1") == 20.0)
        driver = SiteLimitSet(source="driver", unit="A", value=25.0)  # cannot raise the grid's 20 A
        await ref.ask(lambda reply: SetSiteLimit(driver, reply), timeout=10)
        await trio.sleep(0.3)
        assert control.last("CP-1") == 20.0
        snapshot = await ref.ask(InspectSite, timeout=10)
        assert snapshot["limits"]["binding"] == {"value": 20.0, "unit": "A", "source": "grid_operator"}
        assert set(snapshot["limits"]["sources"]) == {"grid_operator", "driver"}
        cleared = SiteLimitCleared(source="grid_operator")
        await ref.ask(lambda reply: SetSiteLimit(cleared, reply), timeout=10)
        await until(lambda: control.last("CP-1") == 25.0)
        bad = SiteLimitSet(source="landlord", unit="A", value=10.0)
        with pytest.raises(ValueError, match="landlord"):
            await ref.ask(lambda reply: SetSiteLimit(bad, reply), timeout=10)


async def test_a_booting_station_is_secured_and_failed_sends_are_retried(store: EventStore) -> None:
    control = Recorded()
    control.refuse.add("CP-1")
    await append(store, "meter/grid", grid(0.0))
    await append(store, "station/CP-1", started(1))
    async with site_actor(store, control) as (_, stats):
        await until(lambda: stats.sends["failed"] >= 2)  # once at the start, again at the next round
        control.refuse.clear()
        await until(lambda: control.last("CP-1") == 32.0)
        booted = StationBooted(
            status="Accepted",
            interval=300,
            vendor="V",
            model="M",
            serial=None,
            firmware=None,
            iccid=None,
            imsi=None,
            meter_type=None,
            meter_serial=None,
        )
        await append(store, "station/CP-2", booted)
        await until(lambda: ("CP-2", 6.0) in control.secured)


async def test_a_restarted_actor_resumes_from_its_last_round(store: EventStore) -> None:
    control = Recorded()
    await append(store, "meter/grid", grid(0.0))
    await append(store, "station/CP-1", started(1))
    await append(store, "station/CP-2", started(2))
    limit = SiteLimitSet(source="site_operator", unit="A", value=24.0)
    async with site_actor(store, control) as (ref, _):
        await ref.ask(lambda reply: SetSiteLimit(limit, reply), timeout=10)
        await until(lambda: control.last("CP-2") == 12.0)
    await append(store, "station/CP-1", stopped(1))  # while no actor runs
    before = len(await rounds(store))
    resumed = Recorded()
    slow = replace(SITE, pacing=replace(PACING, min_interval=3600.0))
    async with site_actor(store, resumed, slow) as (ref, _):
        snapshot = await ref.ask(InspectSite, timeout=10)
    first = (await rounds(store))[before]
    assert first.reason == "start"
    # the limit and CP-2's transaction come from the last round, CP-1's stop from the log after it
    assert snapshot["limits"]["binding"]["source"] == "site_operator"
    assert [(c["station"], c["target"], c["in_force"]) for c in first.connectors] == [("CP-2", 24.0, 12.0)]
    assert resumed.setpoints == []  # CP-2 was sent 12 A before the restart: the rise waits min_interval


async def test_a_need_is_planned_and_the_plan_is_in_the_round(store: EventStore) -> None:
    """Under ``cheapest``, CP-1's car waits for the cheap hours and CP-2 (no need) takes the room; the
    need cleared, CP-1 is back on the instantaneous allocation; the rounds record the plan."""
    control = Recorded()
    site = replace(SITE, planning=Planning(Optimizer.CHEAPEST))
    now = _now()
    await append(store, "meter/grid", grid(0.0))
    await append(store, "station/CP-1", started(1))
    await append(store, "station/CP-2", started(2))
    departure = (now + timedelta(hours=10)).isoformat()
    need = ChargingNeedsSet(
        station="CP-1", connector=1, energy_wh=20_000.0, departure=departure, max_current=32.0, source="api"
    )
    steps = [{"start": (now - timedelta(hours=1)).isoformat(), "price": 0.4}]
    steps.append({"start": (now + timedelta(hours=3)).isoformat(), "price": 0.1})
    await append(store, "needs/CP-1", need)
    await append(store, "prices/depot", SitePricesSet(site="depot", prices=steps))
    async with site_actor(store, control, site) as (ref, stats):
        await until(lambda: control.last("CP-1") == 0.0 and control.last("CP-2") == 32.0)
        snapshot = await ref.ask(InspectSite, timeout=10)
        assert snapshot["plan"]["mode"] == "cheapest"
        assert stats.plans["planned"] >= 1
        await append(store, "needs/CP-1", ChargingNeedsCleared(station="CP-1", connector=1, source="api"))
        await until(lambda: control.last("CP-1") == 16.0 and control.last("CP-2") == 16.0)
    planned = [r for r in await rounds(store) if r.plan is not None]
    [cp1] = planned[0].plan["connectors"]  # type: ignore[index]
    assert (cp1["station"], cp1["planned"], cp1["target"], cp1["unmet_wh"]) == ("CP-1", 0.0, 0.0, 0.0)
    assert (await rounds(store))[-1].plan is None


async def test_rounds_carry_the_view_only_at_checkpoints_and_resume_from_the_last(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("actors.site.CHECKPOINT_EVERY", 3)
    control = Recorded()
    await append(store, "meter/grid", grid(0.0))
    await append(store, "station/CP-1", started(1))
    async with site_actor(store, control) as (_, stats):
        await until(lambda: control.last("CP-1") == 32.0)
        await append(store, "station/CP-2", started(2))
        await until(lambda: control.last("CP-2") == 16.0)
        await until(lambda: sum(stats.rounds.values()) >= 5)
    logged = await rounds(store)
    assert [r.state is not None for r in logged][:5] == [True, False, False, True, False]
    await append(store, "station/CP-1", stopped(1))  # while no actor runs
    resumed = Recorded()
    async with site_actor(store, resumed) as (ref, _):
        await until(lambda: resumed.last("CP-2") == 32.0)  # CP-1 gone, from the log after the checkpoint
        snapshot = await ref.ask(InspectSite, timeout=10)
    assert [c["station"] for c in snapshot["connectors"]] == ["CP-2"]


async def test_a_round_never_waits_for_a_plan_in_the_making(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The solver held up in its worker thread, a rise of the other load still cuts the cars at once;
    once the plan is made, a round applies it."""
    import threading

    from actors.sites import planning

    release = threading.Event()

    def slow(*args: Any) -> Any:
        release.wait(30)
        return planning.make_plan(*args)

    monkeypatch.setattr("actors.site.make_plan", slow)
    control = Recorded()
    site = replace(SITE, planning=Planning(Optimizer.FASTEST))
    await append(store, "meter/grid", grid(0.0))
    await append(store, "station/CP-1", started(1))
    await append(store, "station/CP-2", started(2))
    departure = (_now() + timedelta(hours=4)).isoformat()
    need = ChargingNeedsSet(
        station="CP-1", connector=1, energy_wh=5_000.0, departure=departure, max_current=10.0, source="api"
    )
    await append(store, "needs/CP-1", need)
    try:
        async with site_actor(store, control, site) as (_, stats):
            await until(lambda: control.last("CP-1") == 16.0 and control.last("CP-2") == 16.0)
            await append(store, "meter/grid", grid(32.0 + 12.0))  # 12 A of other load: (32 - 12) / 2
            await until(lambda: control.last("CP-1") == 10.0 and control.last("CP-2") == 10.0)
            assert stats.plans["planned"] == 0
            release.set()
            # the plan holds CP-1 at its 10 A maximum and CP-2 takes the rest of the site's 20 A
            await until(lambda: stats.plans["planned"] >= 1 and stats.plan is not None)
    finally:
        release.set()


async def test_an_optimizer_that_fails_leaves_the_allocation(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("actors.site.make_plan", broken)
    control = Recorded()
    site = replace(SITE, planning=Planning(Optimizer.FASTEST))
    await append(store, "meter/grid", grid(0.0))
    await append(store, "station/CP-1", started(1))
    departure = (_now() + timedelta(hours=4)).isoformat()
    need = ChargingNeedsSet(
        station="CP-1", connector=1, energy_wh=5_000.0, departure=departure, max_current=32.0, source="api"
    )
    await append(store, "needs/CP-1", need)
    async with site_actor(store, control, site) as (_, stats):
        await until(lambda: stats.plans["failed"] >= 1 and stats.plan is not None)
        assert stats.plan is not None and "solver exploded" in stats.plan["error"]
        assert control.last("CP-1") == 32.0  # the allocation goes on
