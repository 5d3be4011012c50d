"""Station and connector actors start from a snapshot plus their stream's tail: the state equals a fold of
the whole stream wherever the snapshot was taken (hypothesis, both store backends); a foreign snapshot,
or one ahead of the stream, is ignored."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.connector import ConnectorActor
from actors.events.station import StationBooted
from actors.snapshots import StreamSnapshots
from actors.station_state import StationState
from actors.station_state import state_codec as station_codec
from adapters.stores import open_store
from core.codec import pack, unpack
from core.events import NewEvent
from core.store import EventStore
from tests.projections.test_live_checkpoint import url_of
from tests.projections.test_live_replay import T0, domain, event

STREAM = "station/A"
script_of = st.lists(domain, min_size=1, max_size=40)


def station_fold(records: list[Any]) -> StationState:
    state = StationState()
    state.apply_all(records)
    return state


async def connector_started(store: EventStore, number: int) -> ConnectorActor:
    actor = ConnectorActor(store, STREAM, number)
    await actor.started()
    return actor


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
@settings(max_examples=15, deadline=None)
@given(script=script_of, cut=st.integers(0, 40))
def test_snapshot_at_any_sequence_plus_the_tail_equals_the_whole_fold(
    backend: str, script: list[tuple[str, dict[str, Any]]], cut: int
) -> None:
    async def scenario(directory: str) -> None:
        async with open_store(url_of(backend, directory)) as store:
            first, rest = script[:cut], script[cut:]
            if first:
                await store.append([NewEvent(STREAM, kind, data, T0) for kind, data in first])
            snapshots = StreamSnapshots(store, f"actor/{STREAM}", STREAM, station_codec())
            early = station_fold(await store.read_stream(STREAM))
            await snapshots.save(early, early.version)
            connectors = {n: await connector_started(store, n) for n in (1, 2)}
            for actor in connectors.values():
                await actor.snapshots.save(actor.view, actor.sequence)
            if rest:
                await store.append([NewEvent(STREAM, kind, data, T0) for kind, data in rest])
            records = await store.read_stream(STREAM)

            restored = await StreamSnapshots(store, f"actor/{STREAM}", STREAM, station_codec()).restore()
            assert restored is not None and restored[1] == early.version
            state = restored[0]
            state.apply_all(await store.read_stream(STREAM, after=state.version))
            assert state == station_fold(records)
            for number in (1, 2):
                resumed = await connector_started(store, number)
                assert resumed.snapshots.sequence == connectors[number].sequence
                cold = ConnectorActor(store, STREAM, number)
                cold.snapshots.store = None  # no snapshots: the whole stream
                await cold.started()
                assert resumed.view == cold.view

    with tempfile.TemporaryDirectory() as directory:
        trio.run(scenario, directory)


async def test_a_foreign_or_early_snapshot_is_ignored() -> None:
    async with open_store("memory://") as store:
        kind, data = event(StationBooted, status="Accepted", vendor="V", model="M")
        await store.append([NewEvent(STREAM, kind, data, T0)])
        snapshots = StreamSnapshots(store, f"actor/{STREAM}", STREAM, station_codec())
        state = station_fold(await store.read_stream(STREAM))
        await snapshots.save(state, 1)
        good = await store.load_snapshot(f"actor/{STREAM}")  # type: ignore[attr-defined]
        assert good is not None
        for blob in (
            pack({**unpack(good), "format": "another build"}),
            pack({**unpack(good), "sequence": 2}),  # ahead of the stream: another store's
            pack({**unpack(good), "state": b"\x93\x01\x02\x03"}),
        ):
            await store.save_snapshot(f"actor/{STREAM}", blob)  # type: ignore[attr-defined]
            assert await StreamSnapshots(store, f"actor/{STREAM}", STREAM, station_codec()).restore() is None
