"""``chargeward serve`` as a subprocess, the way an operator runs it: wait for its banner, stop it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    process: trio.Process
    banner: str

    @property
    def api_url(self) -> str:
        found = re.search(r"API on (http://127\.0\.0\.1:\d+)", self.banner)
        assert found is not None, self.banner
        return found.group(1)

    async def stop(self) -> int:
        """SIGINT, as Ctrl-C would; the exit code."""
        self.process.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            return await self.process.wait()


@asynccontextmanager
async def serving(
    *args: str, until: bytes = b"\n", env: dict[str, str] | None = None
) -> AsyncIterator[Served]:
    """Run ``chargeward serve ARGS`` until its output contains ``until``; kill it if still running after.

    ``env``: variables added to the environment it runs in."""
    command = [sys.executable, "-m", "adapters.cli", "serve", *args]
    environ = None if env is None else {**os.environ, **env}
    process = await trio.lowlevel.open_process(command, cwd=ROOT, stdout=subprocess.PIPE, env=environ)
    try:
        assert process.stdout is not None
        banner = b""
        with trio.fail_after(30):
            while until not in banner:
                chunk = await process.stdout.receive_some()
                assert chunk, f"serve exited before printing {until!r}: {banner!r}"
                banner += chunk
        yield Served(process, banner.decode())
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
