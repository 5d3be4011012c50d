"""Live state rebuilt from the log equals the state the live runner followed, and the connector
actors agree with it: one running from the start, one started part-way and one rebuilt at the end
(hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.connector import Committed, ConnectorActor
from actors.connector_view import ConnectorView, concerned
from actors.events import Event, IdToken, encode
from actors.events.station import (
    ChargingProfileCleared,
    ChargingProfileSet,
    ConfigurationChanged,
    ConnectorStatusChanged,
    FrameReceived,
    MeterSampled,
    ReservationCancelled,
    ReservationMade,
    StationBooted,
    StationConnected,
    StationDisconnected,
    TransactionStarted,
    TransactionStopped,
)
from actors.station_state import StationState
from adapters.stores import open_store
from core.events import EventRecord, NewEvent
from core.projection import ProjectionRunner, replay
from core.store import EventStore
from projections.live import LiveProjection

T0 = datetime(2026, 11, 21, tzinfo=UTC)
stations = st.sampled_from(["A", "B", "C"])
connectors = st.integers(0, 2)
statuses = st.sampled_from(["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Faulted"])
tx_ids = st.integers(1, 6)


# What the strategies below leave out: each event is complete, as a build writes it.
_FILLED: dict[type[Event], dict[str, Any]] = {
    StationBooted: dict.fromkeys(
        ("interval", "serial", "firmware", "iccid", "imsi", "meter_type", "meter_serial")
    ),
    ConnectorStatusChanged: {"info": None, "vendor_error_code": None, "vendor_id": None, "timestamp": None},
    TransactionStarted: {"reservation_id": None, "status": "Accepted", "expiry": None, "parent": None},
    TransactionStopped: {
        "id_token": None,
        "start_id_token": None,
        "energy_wh": None,
        "closed_by": "station",
    },
}


def event(kind: type[Event], **data: Any) -> tuple[str, dict[str, Any]]:
    if kind is TransactionStopped:
        data["known"] = data["connector"] is not None
    if "id_tag" in data:
        data["id_token"] = IdToken(data.pop("id_tag"))
    return encode(kind(**_FILLED.get(kind, {}), **data))


domain = st.one_of(
    st.builds(
        lambda c: event(StationConnected, conn=c, subprotocol="ocpp1.6", remote="x"), st.integers(1, 3)
    ),
    st.builds(lambda c: event(StationDisconnected, conn=c, reason="gone"), st.integers(1, 3)),
    st.builds(
        lambda s: event(StationBooted, status=s, vendor="V", model="M"),
        st.sampled_from(["Accepted", "Pending"]),
    ),
    st.builds(
        lambda c, s: event(ConnectorStatusChanged, connector=c, status=s, error_code="NoError"),
        connectors,
        statuses,
    ),
    st.builds(
        lambda t, c: event(
            TransactionStarted,
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
        lambda t, c: event(
            TransactionStopped,
            transaction_id=t,
            connector=c,
            meter_stop_wh=99.0,
            timestamp="t2",
            reason="Local",
        ),
        tx_ids,
        st.sampled_from([None, 1, 2]),  # None: a stop for a transaction the CSMS never saw start
    ),
    st.builds(
        lambda c, p: event(ChargingProfileSet, connector=c, profile=p),
        connectors,
        st.builds(
            lambda i, level, purpose, tx: {
                "chargingProfileId": i,
                "stackLevel": level,
                "chargingProfilePurpose": purpose,
                "chargingProfileKind": "Absolute",
                **({"transactionId": tx} if tx is not None else {}),
                "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": []},
            },
            st.integers(1, 4),
            st.integers(0, 2),
            st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]),
            st.one_of(st.none(), tx_ids),
        ),
    ),
    st.builds(
        lambda criteria: event(ChargingProfileCleared, criteria=criteria),
        st.one_of(
            st.builds(lambda i: {"id": i}, st.integers(1, 4)),
            st.fixed_dictionaries(
                {},
                optional={
                    "connectorId": connectors,
                    "chargingProfilePurpose": st.sampled_from(["TxDefaultProfile", "TxProfile"]),
                    "stackLevel": st.integers(0, 2),
                },
            ),
        ),
    ),
    st.builds(
        lambda c, v: event(
            MeterSampled,
            connector=c,
            transaction_id=None,
            samples=[{"timestamp": "t", "measurand": "Power.Active.Import", "unit": "W", "value": v}],
        ),
        st.integers(1, 2),
        st.floats(0, 22_000),
    ),
    st.builds(
        lambda k, v: event(ConfigurationChanged, key=k, value=v, status="Accepted"),
        st.sampled_from("XY"),
        st.text(max_size=3),
    ),
    st.builds(
        lambda r: event(ReservationMade, connector=1, reservation_id=r, id_tag="T", expiry="e"),
        st.integers(1, 3),
    ),
    st.builds(lambda r: event(ReservationCancelled, reservation_id=r), st.integers(1, 3)),
    st.builds(lambda: event(FrameReceived, conn=1, text="[2]", action="Heartbeat")),
)


@settings(max_examples=60, deadline=None)
@given(
    script=st.lists(st.tuples(stations, domain), max_size=40),
    batch=st.integers(1, 5),
    late=st.integers(0, 40),
)
def test_rebuilt_live_state_equals_the_followed_one(
    script: list[tuple[str, tuple[str, dict[str, Any]]]], batch: int, late: int
) -> None:
    async def scenario() -> None:
        async with open_store("memory://") as store, trio.open_nursery() as nursery:
            runner = ProjectionRunner(LiveProjection(), store)
            await nursery.start(runner.run)
            followers = StationFollowers(store)
            for i in range(0, len(script), batch):
                if i >= late and not followers.late:
                    await followers.start_late()
                chunk = script[i : i + batch]
                records = await store.append(
                    [NewEvent(f"station/{s}", kind, data, T0) for s, (kind, data) in chunk]
                )
                await followers.tell(records)
            await runner.wait_for(await store.head())
            rebuilt = replay(LiveProjection(), await store.read_all(0, limit=10_000))
            assert rebuilt == runner.state
            for (station_id, number), running in followers.running.items():
                restarted = ConnectorActor(store, f"station/{station_id}", number)
                await restarted.started()
                live = runner.state.stations.get(station_id)
                expected = live.connectors.get(number) if live is not None else None
                expected = expected or ConnectorView(number)
                assert running.view == expected, (station_id, number)
                assert restarted.view == expected, (station_id, number)
                if (station_id, number) in followers.late:
                    assert followers.late[station_id, number].view == expected, (station_id, number)
            nursery.cancel_scope.cancel()

    trio.run(scenario)


class StationFollowers:
    """Connector actors of every station, told what each commit concerns as a station actor tells them.

    ``running`` start before the first event; ``late`` start part-way, rebuilding from the stream.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.states = {s: StationState() for s in "ABC"}
        self.running = {(s, n): ConnectorActor(store, f"station/{s}", n) for s in "ABC" for n in (1, 2)}
        self.late: dict[tuple[str, int], ConnectorActor] = {}

    async def start_late(self) -> None:
        for s in "ABC":
            for n in (1, 2):
                actor = self.late[s, n] = ConnectorActor(self.store, f"station/{s}", n)
                await actor.started()

    async def tell(self, records: list[EventRecord]) -> None:
        for record in records:
            station_id = record.stream.partition("/")[2]
            state = self.states[station_id]
            for event in state.apply(record):
                for number in concerned(event, state.connectors):
                    for actors in (self.running, self.late):
                        actor = actors.get((station_id, number))
                        if actor is not None:
                            committed = Committed(event, record.position, record.time, record.sequence)
                            await actor.receive(committed)
