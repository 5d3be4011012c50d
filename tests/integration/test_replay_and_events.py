"""``replay`` rebuilds what the server knew; ``events export``/``import`` round-trip a log."""

from __future__ import annotations

import io
import json

import pytest

from adapters.csms import Csms
from adapters.event_io import BadExport, export_events, import_events
from adapters.replay import ReplayBound, run_replay, state_of, stored_records
from adapters.stores import open_store
from core.events import NewEvent
from core.store import ConcurrencyConflict
from tests.integration.conftest import disconnected, live
from tests.integration.test_fixture_replay import replay_fixture


async def test_replay_of_the_stored_log_equals_the_live_projection(csms: Csms) -> None:
    await replay_fixture(csms, "R-1")
    await disconnected(csms, "R-1")
    live_state = await live(csms)
    records = [r async for r in stored_records(csms.store, None, ReplayBound())]
    assert state_of(records) == live_state

    out = io.StringIO()
    assert await run_replay(csms.store, "R-1", ReplayBound(), as_json=True, out=out) == 0
    replayed = json.loads(out.getvalue())
    assert replayed["stations"][0]["boot"]["vendor"] == "Chargedot"
    assert [t["stop_reason"] for t in replayed["transactions"]] == ["Local"]
    assert len(replayed["timeline"]) == len(await csms.store.read_stream("station/R-1"))


async def test_replay_stops_at_a_position(csms: Csms) -> None:
    await replay_fixture(csms, "R-2")
    records = await csms.store.read_stream("station/R-2")
    started = next(r for r in records if r.type == "TransactionStarted")
    out = io.StringIO()
    await run_replay(csms.store, "R-2", ReplayBound(position=started.position), as_json=True, out=out)
    state = json.loads(out.getvalue())
    assert state["position"] == started.position
    assert [t["active"] for t in state["transactions"]] == [True], "at that moment the session was running"
    text = io.StringIO()
    await run_replay(csms.store, "R-2", ReplayBound(position=started.position), as_json=False, out=text)
    assert "TransactionStarted" in text.getvalue() and "TransactionStopped" not in text.getvalue()


async def test_replay_of_an_unknown_station_says_so(csms: Csms, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_replay(csms.store, "NOPE", ReplayBound(), as_json=True, out=io.StringIO()) == 1
    assert "no events for station 'NOPE'" in capsys.readouterr().err


async def test_export_then_import_reproduces_the_log(csms: Csms) -> None:
    await replay_fixture(csms, "X-1")
    await disconnected(csms, "X-1")
    blob = io.BytesIO()
    exported = await export_events(csms.store, blob)
    source = await csms.store.read_all(0, limit=10_000)
    assert exported == len(source)
    blob.seek(0)
    async with open_store("memory://") as target:
        assert await import_events(target, blob) == exported
        copied = await target.read_all(0, limit=10_000)
    strip = [(r.stream, r.sequence, r.type, r.time, dict(r.data)) for r in source]
    assert [(r.stream, r.sequence, r.type, r.time, dict(r.data)) for r in copied] == strip


async def test_import_refuses_a_truncated_or_foreign_stream_and_a_diverging_history(csms: Csms) -> None:
    await replay_fixture(csms, "X-2")
    await disconnected(csms, "X-2")
    blob = io.BytesIO()
    await export_events(csms.store, blob)
    async with open_store("memory://") as target:
        with pytest.raises(BadExport, match="middle"):
            await import_events(target, io.BytesIO(blob.getvalue()[:-3]))
        with pytest.raises(BadExport, match="not a chargeward export"):
            await import_events(target, io.BytesIO(b"\x93\x01\x02\x03"))
    async with open_store("memory://") as diverged:
        await diverged.append(
            [NewEvent("station/X-2", "Other", {}, (await csms.store.read_all(0, 1))[0].time)]
        )
        blob.seek(0)
        with pytest.raises(ConcurrencyConflict, match="station/X-2"):
            await import_events(diverged, blob)
