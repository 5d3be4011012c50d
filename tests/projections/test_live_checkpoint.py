"""The live state's checkpoint: resuming from one at any position and folding the tail gives the state a
fold from 0 gives (hypothesis), in both store backends; a checkpoint of another shape or build is
ignored and the state refolds."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events.station import StationBooted
from adapters.config import Config, StateOptions
from adapters.csms import LIVE_CHECKPOINT, live_runner
from adapters.stores import open_store
from core.codec import pack, unpack
from core.events import EventRecord, NewEvent
from core.projection import replay
from core.state_codec import StateCodec
from core.store import EventStore
from projections.live import LiveProjection, LiveState, state_codec
from tests import pg
from tests.projections.test_live_replay import T0, domain, event, stations

scripts = st.lists(st.tuples(stations, domain), min_size=1, max_size=40)


def records_of(script: list[tuple[str, tuple[str, dict[str, Any]]]]) -> list[EventRecord]:
    return [
        EventRecord(f"station/{s}", n, n, kind, T0, data)
        for n, (s, (kind, data)) in enumerate(script, start=1)
    ]


@settings(max_examples=80, deadline=None)
@given(script=scripts, cut=st.integers(0, 40))
def test_a_checkpoint_at_any_position_plus_the_tail_equals_the_fold_from_0(
    script: list[tuple[str, tuple[str, dict[str, Any]]]], cut: int
) -> None:
    records = records_of(script)
    codec = state_codec(LiveProjection())
    saved = codec.encode(replay(LiveProjection(), records[:cut]))
    state = codec.decode(saved)
    for record in records[cut:]:
        state = LiveProjection().fold(state, record)
    assert state == replay(LiveProjection(), records)


async def append_script(store: EventStore, script: list[tuple[str, tuple[str, dict[str, Any]]]]) -> None:
    await store.append([NewEvent(f"station/{s}", kind, data, T0) for s, (kind, data) in script])


async def run_to_head(store: EventStore, config: Config) -> LiveState:
    """Start the live runner as ``serve`` does, let it catch up, stop it (it checkpoints); its state."""
    runner = live_runner(store, config)
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        await runner.wait_for(await store.head())
        nursery.cancel_scope.cancel()
    return runner.state


def url_of(backend: str, directory: str) -> str:
    if backend == "postgres":
        return pg.session_url()
    return "memory://" if backend == "memory" else f"sqlite:///{Path(directory) / 'events.db'}"


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
@settings(max_examples=15, deadline=None)
@given(script=scripts, cut=st.integers(1, 39), every=st.integers(1, 7), keep=st.integers(1, 3))
def test_the_runner_resumes_from_its_checkpoint_in_the_store(
    backend: str, script: list[tuple[str, tuple[str, dict[str, Any]]]], cut: int, every: int, keep: int
) -> None:
    config = Config(state=StateOptions(checkpoint_every=every, finished_transactions=keep))

    async def scenario(directory: str) -> None:
        async with open_store(url_of(backend, directory)) as store:
            await append_script(store, script[:cut])
            await run_to_head(store, config)
            await append_script(store, script[cut:])
            resumed = live_runner(store, config)
            async with trio.open_nursery() as nursery:
                await nursery.start(resumed.run)
                assert resumed.restored_from == min(cut, len(script))
                await resumed.wait_for(await store.head())
                nursery.cancel_scope.cancel()
            records = await store.read_all(0, limit=10_000)
            assert resumed.state == replay(LiveProjection(keep), records)

    with tempfile.TemporaryDirectory() as directory:
        trio.run(scenario, directory)


@dataclass(slots=True)
class StationView:
    """Another build's ``StationView``: the same name, other fields."""

    station_id: str


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
async def test_a_checkpoint_of_another_shape_or_build_is_ignored_and_the_state_refolds(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = [("A", event(StationBooted, status="Accepted", vendor="V", model="M"))]
    config = Config()
    async with open_store(url_of(backend, str(tmp_path))) as store:
        await append_script(store, script)
        expected = await run_to_head(store, config)
        good = await store.load_snapshot(LIVE_CHECKPOINT)  # type: ignore[attr-defined]
        assert good is not None and unpack(good)["position"] == 1
        foreign_build = {**unpack(good), "format": "0123456789abcdef"}
        other = StateCodec(LiveState, (StationView,), version=1, modules=())
        other_state = LiveState(stations={"A": StationView("A")}, position=1)  # type: ignore[dict-item]
        foreign_shape = {**unpack(good), "state": other.encode(other_state)}  # this build's format
        for blob in (pack(foreign_build), pack(foreign_shape), b"\xc1garbage"):
            await store.save_snapshot(LIVE_CHECKPOINT, blob)  # type: ignore[attr-defined]
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="core.projection"):
                runner = live_runner(store, config)
                async with trio.open_nursery() as nursery:
                    await nursery.start(runner.run)
                    assert runner.restored_from == 0
                    await runner.wait_for(1)
                    nursery.cancel_scope.cancel()
            assert runner.state == expected
            assert "ignoring checkpoint" in caplog.text
