"""The SQLite committer process: replaced when lost, never orphaned, chosen by URL option."""

from __future__ import annotations

import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import trio

from adapters.stores import open_store
from adapters.stores.committer import CommitterLost
from core.events import NewEvent
from core.store import CommitFailed

ROOT = pathlib.Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 21, tzinfo=UTC)


def event(stream: str, n: int) -> NewEvent:
    return NewEvent(stream, "Tick", {"n": n}, T0)


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def gone(pid: int) -> bool:
    """Whether ``pid`` ends within 10 s (polled: there is no event to wait on for another process)."""
    for _ in range(200):
        if not running(pid):
            return True
        await trio.sleep(0.05)
    return False


async def test_a_committer_lost_mid_commit_fails_that_batch_as_may_be_stored_and_the_next_gets_a_new_child(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "events.db"
    async with open_store(f"sqlite://{path}?lock_timeout=60") as store:
        committer = store.log.committer  # type: ignore[attr-defined]
        first = await store.append([event("station/CP-1", 1)])
        pid = committer.pid
        failed: list[CommitFailed] = []

        async def append_under_lock() -> None:
            with pytest.raises(CommitFailed) as caught:
                await store.append([event("station/CP-1", 2)])
            failed.append(caught.value)

        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # the child's commit waits for this write lock
            async with trio.open_nursery() as nursery:
                nursery.start_soon(append_under_lock)
                await trio.sleep(0.5)  # the batch is in the child's hands (if not, it fails the same way)
                os.kill(pid, signal.SIGKILL)
        finally:
            blocker.rollback()
            blocker.close()
        assert await gone(pid)
        assert isinstance(failed[0].__cause__, CommitterLost)
        assert "may be stored" in str(failed[0]), "the appender must not be told nothing was stored"
        again = await store.append([event("station/CP-1", 2)])
        assert committer.starts == 2 and committer.pid != pid
        assert (again[0].sequence, again[0].position) == (2, 2)
        stored = await store.read_stream("station/CP-1")
        assert [r.data["n"] for r in stored] == [1, 2] and stored[0] == first[0]


async def test_a_committer_killed_while_idle_is_replaced_before_the_batch(tmp_path: pathlib.Path) -> None:
    async with open_store(f"sqlite://{tmp_path}/events.db") as store:
        committer = store.log.committer  # type: ignore[attr-defined]
        await store.append([event("station/CP-1", 1)])
        pid = committer.pid
        os.kill(pid, signal.SIGKILL)
        assert await gone(pid)
        again = await store.append([event("station/CP-1", 2)])  # no failure: nothing was in hand
        assert committer.starts == 2 and committer.pid != pid
        assert [r.data["n"] for r in await store.read_stream("station/CP-1")] == [1, 2]
        assert again[0].sequence == 2


async def test_closing_the_store_stops_its_committer(tmp_path: pathlib.Path) -> None:
    async with open_store(f"sqlite://{tmp_path}/events.db") as store:
        await store.append([event("station/CP-1", 1)])
        pid = store.log.committer.pid  # type: ignore[attr-defined]
        assert running(pid)
    assert await gone(pid)


SERVER = """
import sys, trio
from adapters.stores import open_store
async def main():
    async with open_store(sys.argv[1]) as store:
        print(store.log.committer.pid, flush=True)
        await trio.sleep_forever()
trio.run(main)
"""


async def test_a_server_killed_with_sigkill_takes_its_committer_with_it(tmp_path: pathlib.Path) -> None:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", SERVER, f"sqlite://{tmp_path}/events.db"], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        with trio.fail_after(30):
            line = b""
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some()
                assert chunk, "the server exited before printing its committer's pid"
                line += chunk
        committer = int(line)
        assert running(committer)
    finally:
        process.kill()
        await process.wait()
    assert await gone(committer), "the committer outlived its server"


@pytest.mark.parametrize("option", ["committer=fork", "committer="])
async def test_an_unknown_committer_option_is_refused(tmp_path: pathlib.Path, option: str) -> None:
    with pytest.raises(ValueError, match="committer"):
        async with open_store(f"sqlite://{tmp_path}/events.db?{option}"):
            pass
