"""Ctrl-C on ``chargeward serve`` (SIGINT to the whole process group, as a terminal sends it) stops the
server and its SQLite committer child cleanly: exit code 0, no traceback from either, and no dead
letters from the connected (demo) stations' connections closing after their actors stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import trio

ROOT = Path(__file__).resolve().parents[2]


async def _drain(stream: trio.abc.ReceiveStream, into: bytearray) -> None:
    while chunk := await stream.receive_some():
        into += chunk


async def test_ctrl_c_stops_serve_and_its_committer_without_a_traceback(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "adapters.cli", "serve", "--data-dir", str(tmp_path)]
    command += ["--host", "127.0.0.1", "--ocpp-port", "0", "--api-port", "0", "--demo", "3"]
    process = await trio.lowlevel.open_process(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = bytearray(), bytearray()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, process.stderr, err)
            with trio.fail_after(60):
                while b"demo stations charging" not in out:
                    chunk = await process.stdout.receive_some()
                    assert chunk, f"serve exited before its banner: {bytes(out)!r} {bytes(err)!r}"
                    out += chunk
            await _connected(re.search(rb"try curl (http://\S+)", out).group(1).decode(), 3)  # type: ignore[union-attr]
            os.killpg(process.pid, signal.SIGINT)
            nursery.start_soon(_drain, process.stdout, out)
            with trio.fail_after(60):
                code = await process.wait()
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
    assert code == 0, bytes(err).decode(errors="replace")
    assert b"stopping" in out
    assert b"Traceback" not in err, bytes(err).decode(errors="replace")
    assert b"dead letter" not in err, bytes(err).decode(errors="replace")


async def _connected(stations_url: str, count: int) -> None:
    """Wait until ``count`` stations show connected at ``stations_url``."""
    async with httpx.AsyncClient(timeout=10) as client:
        with trio.fail_after(60):
            while True:
                stations = (await client.get(stations_url)).json()["stations"]
                if sum(s["connected"] for s in stations) >= count:
                    return
                await trio.sleep(0.2)
