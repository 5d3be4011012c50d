"""Servers under test: start one as a subprocess on 127.0.0.1 with a free port and a fresh data dir,
wait until it accepts, read its CPU seconds and RSS from /proc/<pid>, stop it.

A `ServerSpec` is a command template, so any CSMS that can be told its port is pluggable
(``--server-cmd``). The built-in ones are chargeward itself and the two peer baselines.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import trio

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServerSpec:
    """How to start a CSMS: ``argv`` placeholders {python}, {bindir}, {port}, {api_port}, {data_dir}."""

    name: str
    argv: tuple[str, ...]
    ocpp_path: str = "/ocpp"
    metrics_path: str | None = None
    scheme: str = "ws"  # wss for a server that serves TLS on its OCPP port

    def command(self, port: int, api_port: int, data_dir: str) -> list[str]:
        values = {
            "python": sys.executable,
            "bindir": str(Path(sys.executable).parent),
            "port": str(port),
            "api_port": str(api_port),
            "data_dir": data_dir,
        }
        return [part.format(**values) for part in self.argv]


BUILTIN: dict[str, ServerSpec] = {
    "chargeward": ServerSpec(
        "chargeward",
        (
            "{bindir}/chargeward",
            "serve",
            "--data-dir",
            "{data_dir}",
            "--host",
            "127.0.0.1",
            "--ocpp-port",
            "{port}",
            "--api-port",
            "{api_port}",
        ),
        metrics_path="/metrics",
    ),
    "floor": ServerSpec("floor", ("{python}", "-m", "bench.peers.floor", "--port", "{port}")),
    "ocpp-peer": ServerSpec("ocpp-peer", ("{python}", "-m", "bench.peers.ocpp_peer", "--port", "{port}")),
}


def server_spec(name: str, command: str | None = None) -> ServerSpec:
    """A built-in spec by name, or a custom one from a command line with placeholders."""
    if command is not None:
        return ServerSpec(name, tuple(shlex.split(command)))
    try:
        return BUILTIN[name]
    except KeyError:
        raise ValueError(f"unknown server {name!r}; built-in: {', '.join(BUILTIN)}") from None


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1 (all held open while choosing, so none repeats)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (chargeward's SQLite committer is a child of the server)."""
    tree, i = [pid], 0
    while i < len(tree):
        for task in Path(f"/proc/{tree[i]}/task").glob("*/children"):
            try:
                tree.extend(int(child) for child in task.read_text().split())
            except OSError:
                pass  # the task ended while we looked
        i += 1
    return tree


def tree_total(pid: int, measure: Callable[[int], float]) -> float:
    """``measure`` summed over ``pid`` and its descendants, skipping any that ended meanwhile."""
    total = 0.0
    for member in process_tree(pid):
        try:
            total += measure(member)
        except (OSError, RuntimeError):
            if member == pid:
                raise
    return total


def proc_rss_bytes(pid: int) -> int:
    """Resident set size of a process from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class RunningServer:
    spec: ServerSpec
    process: trio.Process
    port: int
    api_port: int
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"{self.spec.scheme}://127.0.0.1:{self.port}{self.spec.ocpp_path}"

    @property
    def metrics_url(self) -> str | None:
        if self.spec.metrics_path is None:
            return None
        return f"http://127.0.0.1:{self.api_port}{self.spec.metrics_path}"

    def _alive(self) -> int:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.spec.name} exited with {self.process.returncode} during the run:\n{self.log_tail()}"
            )
        return self.process.pid

    def cpu_seconds(self) -> float:
        """CPU seconds of the server and its child processes so far."""
        return tree_total(self._alive(), proc_cpu_seconds)

    def rss_bytes(self) -> int:
        """Resident memory of the server and its child processes."""
        return int(tree_total(self._alive(), proc_rss_bytes))

    def log_tail(self, limit: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-limit:]


async def _wait_accepting(server: RunningServer, within: float) -> None:
    with trio.move_on_after(within):
        while server.process.poll() is None:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            except OSError:
                await trio.sleep(0.05)
                continue
            await stream.aclose()
            return
        raise RuntimeError(
            f"{server.spec.name} exited with {server.process.returncode}:\n{server.log_tail()}"
        )
    raise RuntimeError(
        f"{server.spec.name} did not accept on port {server.port} within {within}s:\n{server.log_tail()}"
    )


async def _stop(process: trio.Process, grace: float) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGINT)
    with trio.move_on_after(grace):
        await process.wait()
        return
    process.kill()
    await process.wait()


def _open_log(path: Path) -> BinaryIO:
    return path.open("wb")


def _fresh_dirs(tmp: Path) -> tuple[Path, Path]:
    data_dir = tmp / "data"
    data_dir.mkdir()
    return data_dir, tmp / "server.log"


@asynccontextmanager
async def running(spec: ServerSpec, ready_within: float = 30.0) -> AsyncIterator[RunningServer]:
    """Start ``spec`` with a free port and a fresh temp data dir; stop it and remove the dir on exit."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{spec.name}-") as tmp:
        data_dir, log_path = _fresh_dirs(Path(tmp))
        port, api_port = free_ports(2)
        with _open_log(log_path) as log:
            process = await trio.lowlevel.open_process(
                spec.command(port, api_port, str(data_dir)),
                stdout=log,
                stderr=log,
                cwd=REPO,
            )
        server = RunningServer(spec, process, port, api_port, data_dir, log_path)
        try:
            await _wait_accepting(server, ready_within)
            yield server
        finally:
            with trio.CancelScope(shield=True):
                await _stop(process, grace=5.0)
