"""The snapshot of live state: fleet sums agree with the per-connector series, and a big fleet is
read in chunks with trio checkpoints between them, so a scrape never holds the loop for long."""

from __future__ import annotations

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.connector_view import ConnectorView
from actors.ocpp_stats import OcppStats
from adapters.metrics.snapshot import CHUNK, STATUSES, Snapshot, Sources, take
from core.dead_letters import DeadLetters
from core.stats import RuntimeStats
from projections.live import LiveState, StationView

connector_views = st.builds(
    ConnectorView,
    connector=st.integers(1, 4),
    status=st.none() | st.sampled_from(sorted(STATUSES)) | st.text(max_size=5),
    power_w=st.none() | st.floats(0, 22_000),
    energy_wh=st.none() | st.floats(0, 1e7),
)


def fleet(stations: dict[str, tuple[bool, list[ConnectorView]]]) -> LiveState:
    state = LiveState()
    for station_id, (connected, views) in stations.items():
        view = state.stations[station_id] = StationView(station_id, connected=connected)
        view.connectors = {c.connector: c for c in views}
    return state


async def snapshot(state: LiveState, *, per_connector: bool = True) -> Snapshot:
    sources = Sources(OcppStats(), RuntimeStats(DeadLetters()), None, state)
    return await take(
        sources, head=0, live_position=0, per_connector=per_connector, max_vendors=20, max_repair_series=200
    )


@settings(max_examples=40, deadline=None)
@given(
    stations=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.tuples(st.booleans(), st.lists(connector_views, max_size=3)),
        max_size=8,
    )
)
def test_fleet_sums_agree_with_the_per_connector_series(
    stations: dict[str, tuple[bool, list[ConnectorView]]],
) -> None:
    async def check() -> None:
        state = fleet(stations)
        on = await snapshot(state)
        off = await snapshot(state, per_connector=False)
        count = sum(len(v.connectors) for v in state.stations.values())
        assert len(on.connectors) == count == sum(on.connectors_by_status.values())
        assert set(on.connectors_by_status) <= STATUSES | {"unknown", "other"}
        assert abs(on.power_w - sum(c.power_w or 0.0 for c in on.connectors)) < 1e-6
        assert on.stations_connected == sum(up for _, up in on.station_connected) == off.stations_connected
        assert (off.connectors, off.station_connected) == ((), ())
        assert off.connectors_by_status == on.connectors_by_status and off.power_w == on.power_w

    trio.run(check)


async def test_a_big_fleet_is_read_in_chunks_between_trio_checkpoints() -> None:
    stations = {f"CP-{i}": (i % 2 == 0, [ConnectorView(1, status="Available")]) for i in range(CHUNK * 2 + 1)}
    state = fleet(stations)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await trio.lowlevel.checkpoint()
            ticks += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()  # let the ticker start
        before = ticks
        taken = await snapshot(state)
        nursery.cancel_scope.cancel()
    # ``before`` is read just before ``take`` starts, so any tick since came at one of its checkpoints.
    assert ticks > before, "other tasks ran while the snapshot was taken"
    assert taken.stations_known == CHUNK * 2 + 1 and taken.stations_connected == CHUNK + 1
    assert taken.connectors_by_status == {"Available": CHUNK * 2 + 1}
