"""Ctrl-C on ``chargeward serve`` (SIGINT to the whole process group, as a terminal sends it) stops the
server and its SQLite committer child cleanly: exit code 0 and no traceback from either."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[2]


async def _drain(stream: trio.abc.ReceiveStream, into: bytearray) -> None:
    while chunk := await stream.receive_some():
        into += chunk


async def test_ctrl_c_stops_serve_and_its_committer_without_a_traceback(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "adapters.cli", "serve", "--data-dir", str(tmp_path)]
    command += ["--host", "127.0.0.1", "--ocpp-port", "0", "--api-port", "0"]
    process = await trio.lowlevel.open_process(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = bytearray(), bytearray()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, process.stderr, err)
            with trio.fail_after(60):
                while b"OCPP on" not in out:
                    chunk = await process.stdout.receive_some()
                    assert chunk, f"serve exited before its banner: {bytes(out)!r} {bytes(err)!r}"
                    out += chunk
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
