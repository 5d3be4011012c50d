"""Projections: the live runner equals a replay from 0, read-your-writes, resumable checkpoints."""

from __future__ import annotations

import itertools
import os
import pathlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.stores import open_store
from core.events import EventRecord, NewEvent
from core.projection import FileCheckpoint, MemoryCheckpoint, ProjectionRunner, replay
from core.store import EventStore

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
STREAMS = ["station/CP-1", "station/CP-2", "meter/grid"]
EXAMPLES = itertools.count()
State = dict[str, Any]


class EnergyByStream:
    """Energy per stream, events per type and the last position: a small but order-sensitive fold."""

    name = "energy-by-stream"

    def __init__(self) -> None:
        self.folds = 0

    def initial(self) -> State:
        return {"energy": {}, "types": {}, "trail": []}

    def fold(self, state: State, record: EventRecord) -> State:
        self.folds += 1  # observation for the test only; the state is built purely from its inputs
        energy = dict(state["energy"])
        energy[record.stream] = energy.get(record.stream, 0) + record.data["wh"]
        types = dict(state["types"])
        types[record.type] = types.get(record.type, 0) + 1
        return {"energy": energy, "types": types, "trail": [*state["trail"][-4:], record.position]}


def sample(stream: str, wh: int, type: str = "MeterSampled") -> NewEvent:
    return NewEvent(stream, type, {"wh": wh}, T0)


async def all_records(store: EventStore) -> list[EventRecord]:
    records: list[EventRecord] = []
    while page := await store.read_all(after=records[-1].position if records else 0):
        records.extend(page)
    return records


def test_replay_folds_in_order_from_the_initial_state() -> None:
    records = [
        EventRecord("meter/grid", 1, 1, "MeterSampled", T0, {"wh": 5}),
        EventRecord("meter/grid", 2, 2, "Reset", T0, {"wh": -5}),
    ]
    state = replay(EnergyByStream(), records)
    assert state == {"energy": {"meter/grid": 0}, "types": {"MeterSampled": 1, "Reset": 1}, "trail": [1, 2]}
    assert replay(EnergyByStream(), []) == EnergyByStream().initial()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.lists(
            st.tuples(st.sampled_from(STREAMS), st.integers(-1000, 1000), st.sampled_from(["A", "B"])),
            min_size=1,
            max_size=4,
        ),
        min_size=1,
        max_size=10,
    )
)
async def test_rebuilding_from_zero_equals_the_live_state(
    new_store_url: Callable[[], str], batches: list[list[tuple[str, int, str]]]
) -> None:
    async with open_store(new_store_url(), max_batch=5) as store, trio.open_nursery() as nursery:
        runner = ProjectionRunner(EnergyByStream(), store)
        await nursery.start(runner.run)
        last = 0

        async def append(batch: list[tuple[str, int, str]]) -> None:
            nonlocal last
            records = await store.append([sample(stream, wh, type) for stream, wh, type in batch])
            last = max(last, records[-1].position)

        async with trio.open_nursery() as appenders:
            for batch in batches:
                appenders.start_soon(append, batch)
        with trio.fail_after(10):
            await runner.wait_for(last)
        assert runner.position == last == await store.head()
        assert runner.state == replay(EnergyByStream(), await all_records(store))
        nursery.cancel_scope.cancel()


async def test_wait_for_gives_read_your_writes(store_url: str) -> None:
    async with open_store(store_url) as store, trio.open_nursery() as nursery:
        runner = ProjectionRunner(EnergyByStream(), store)
        await nursery.start(runner.run)
        for wh in (10, 20, 30):
            records = await store.append([sample("station/CP-1", wh)])
            await runner.wait_for(records[-1].position)
            assert runner.state["trail"][-1] == records[-1].position
        assert runner.state["energy"] == {"station/CP-1": 60}
        await runner.wait_for(0)  # already there: returns at once
        nursery.cancel_scope.cancel()


async def run_until(store: EventStore, runner: ProjectionRunner[State], position: int) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        with trio.fail_after(10):
            await runner.wait_for(position)
        nursery.cancel_scope.cancel()


async def test_a_restarted_runner_resumes_from_its_file_checkpoint(tmp_path: pathlib.Path) -> None:
    url = f"sqlite://{tmp_path}/events.db"
    checkpoint = FileCheckpoint(tmp_path / "energy.ckpt")
    async with open_store(url) as store:
        first = await store.append([sample(STREAMS[i % 3], i) for i in range(50)])
        await run_until(
            store, ProjectionRunner(EnergyByStream(), store, checkpoint=checkpoint), first[-1].position
        )
    names = os.listdir(tmp_path)
    assert "energy.ckpt" in names and not [n for n in names if n.startswith(".checkpoint-")]

    async with open_store(url) as store:  # a new process, in effect: new store, new projection
        projection = EnergyByStream()
        runner = ProjectionRunner(projection, store, checkpoint=checkpoint)
        second = await store.append([sample("meter/grid", 1000), sample("station/CP-9", 7)])
        await run_until(store, runner, second[-1].position)
        assert projection.folds == 2  # only the new events were folded
        assert runner.state == replay(EnergyByStream(), await all_records(store))


async def test_checkpoints_are_saved_every_n_events_and_on_exit() -> None:
    checkpoint = MemoryCheckpoint()
    async with open_store("memory://") as store:
        runner = ProjectionRunner(EnergyByStream(), store, checkpoint=checkpoint, checkpoint_every=10)
        async with trio.open_nursery() as nursery:
            await nursery.start(runner.run)
            for first in range(0, 25, 5):  # five commits, each folded before the next
                records = await store.append([sample("meter/grid", i) for i in range(first, first + 5)])
                await runner.wait_for(records[-1].position)
            assert checkpoint.blob is not None  # saved at 10 and 20 while running
            resumed = ProjectionRunner(EnergyByStream(), store, checkpoint=checkpoint)
            await resumed._restore()
            assert resumed.position == 20
            nursery.cancel_scope.cancel()
        resumed = ProjectionRunner(EnergyByStream(), store, checkpoint=checkpoint)
        await resumed._restore()
        assert resumed.position == 25 and resumed.state == runner.state


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda blob: b"\x00garbage", id="garbage"),
        pytest.param(
            lambda blob: blob.replace(b"energy-by-stream", b"something-else!!"), id="other-projection"
        ),
        pytest.param(lambda blob: blob[: len(blob) // 2], id="truncated"),
    ],
)
async def test_an_unusable_checkpoint_means_a_rebuild_from_zero(damage: Callable[[bytes], bytes]) -> None:
    checkpoint = MemoryCheckpoint()
    async with open_store("memory://") as store:
        records = await store.append([sample("meter/grid", i) for i in range(5)])
        await run_until(
            store, ProjectionRunner(EnergyByStream(), store, checkpoint=checkpoint), records[-1].position
        )
        assert checkpoint.blob is not None
        checkpoint.blob = damage(checkpoint.blob)
        projection = EnergyByStream()
        runner = ProjectionRunner(projection, store, checkpoint=checkpoint)
        await run_until(store, runner, records[-1].position)
        assert projection.folds == 5
        assert runner.state == replay(EnergyByStream(), records)


async def test_a_checkpoint_ahead_of_the_log_is_ignored() -> None:
    checkpoint = MemoryCheckpoint()
    async with open_store("memory://") as store:
        records = await store.append([sample("meter/grid", i) for i in range(5)])
        await run_until(store, ProjectionRunner(EnergyByStream(), store, checkpoint=checkpoint), 5)
    async with open_store("memory://") as emptier:  # the log was replaced by a shorter one
        records = await emptier.append([sample("meter/grid", 100)])
        runner = ProjectionRunner(EnergyByStream(), emptier, checkpoint=checkpoint)
        await run_until(emptier, runner, 1)
        assert runner.state == replay(EnergyByStream(), records)


async def test_a_state_the_codec_cannot_encode_is_a_clear_error() -> None:
    class Sets:
        name = "sets"

        def initial(self) -> set[str]:
            return set()

        def fold(self, state: set[str], record: EventRecord) -> set[str]:
            return state | {record.stream}

    async with open_store("memory://") as store:
        await store.append([sample("meter/grid", 1)])
        runner = ProjectionRunner(Sets(), store, checkpoint=MemoryCheckpoint())
        with pytest.raises(TypeError, match=r"projection 'sets' state cannot be checkpointed: .*type set"):
            await runner.run()  # refused before it starts following, not at the first checkpoint


class FailingCheckpoint(MemoryCheckpoint):
    """A checkpoint store that refuses every save (a full disk, a locked database)."""

    async def save(self, blob: bytes) -> None:
        await trio.lowlevel.checkpoint()
        raise OSError("no space left on device")


async def test_a_checkpoint_that_cannot_be_saved_is_logged_and_folding_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with open_store("memory://") as store:
        runner = ProjectionRunner(EnergyByStream(), store, checkpoint=FailingCheckpoint(), checkpoint_every=1)
        async with trio.open_nursery() as nursery:
            await nursery.start(runner.run)
            for i in range(3):
                records = await store.append([sample("meter/grid", i)])
                await runner.wait_for(records[-1].position)
            nursery.cancel_scope.cancel()
        assert runner.state == replay(EnergyByStream(), await all_records(store))
        assert runner.checkpoint_position == 0
    assert "checkpoint not saved (OSError('no space left on device'))" in caplog.text
