"""Live state rebuilt from the log equals the state the live runner followed (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import event_types as ev
from adapters.stores import open_store
from core.events import NewEvent
from core.projection import ProjectionRunner, replay
from projections.live import LiveProjection

T0 = datetime(2026, 11, 21, tzinfo=UTC)
stations = st.sampled_from(["A", "B", "C"])
connectors = st.integers(0, 2)
statuses = st.sampled_from(["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Faulted"])
tx_ids = st.integers(1, 6)


def event(kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return kind, data


domain = st.one_of(
    st.builds(
        lambda c: event(ev.STATION_CONNECTED, conn=c, subprotocol="ocpp1.6", remote="x"), st.integers(1, 3)
    ),
    st.builds(lambda c: event(ev.STATION_DISCONNECTED, conn=c, reason="gone"), st.integers(1, 3)),
    st.builds(
        lambda s: event(ev.STATION_BOOTED, status=s, vendor="V", model="M"),
        st.sampled_from(["Accepted", "Pending"]),
    ),
    st.builds(
        lambda c, s: event(ev.CONNECTOR_STATUS_CHANGED, connector=c, status=s, error_code="NoError"),
        connectors,
        statuses,
    ),
    st.builds(
        lambda t, c: event(
            ev.TRANSACTION_STARTED,
            transaction_id=t,
            connector=c,
            id_tag="T",
            meter_start_wh=10.0,
            timestamp="t",
        ),
        tx_ids,
        st.integers(1, 2),
    ),
    st.builds(
        lambda t: event(
            ev.TRANSACTION_STOPPED, transaction_id=t, meter_stop_wh=99.0, timestamp="t2", reason="Local"
        ),
        tx_ids,
    ),
    st.builds(
        lambda c, v: event(
            ev.METER_SAMPLED,
            connector=c,
            transaction_id=None,
            samples=[{"timestamp": "t", "measurand": "Power.Active.Import", "unit": "W", "value": v}],
        ),
        st.integers(1, 2),
        st.floats(0, 22_000),
    ),
    st.builds(
        lambda k, v: event(ev.CONFIGURATION_CHANGED, key=k, value=v, status="Accepted"),
        st.sampled_from("XY"),
        st.text(max_size=3),
    ),
    st.builds(
        lambda r: event(ev.RESERVATION_MADE, connector=1, reservation_id=r, id_tag="T", expiry="e"),
        st.integers(1, 3),
    ),
    st.builds(lambda r: event(ev.RESERVATION_CANCELLED, reservation_id=r), st.integers(1, 3)),
    st.builds(lambda: event(ev.FRAME_RECEIVED, conn=1, text="[2]", action="Heartbeat")),
)


@settings(max_examples=40, deadline=None)
@given(script=st.lists(st.tuples(stations, domain), max_size=40), batch=st.integers(1, 5))
def test_rebuilt_live_state_equals_the_followed_one(
    script: list[tuple[str, tuple[str, dict[str, Any]]]], batch: int
) -> None:
    async def scenario() -> None:
        async with open_store("memory://") as store, trio.open_nursery() as nursery:
            runner = ProjectionRunner(LiveProjection(), store)
            await nursery.start(runner.run)
            for i in range(0, len(script), batch):
                chunk = script[i : i + batch]
                await store.append([NewEvent(f"station/{s}", kind, data, T0) for s, (kind, data) in chunk])
            await runner.wait_for(await store.head())
            rebuilt = replay(LiveProjection(), await store.read_all(0, limit=10_000))
            assert rebuilt == runner.state
            nursery.cancel_scope.cancel()

    trio.run(scenario)
