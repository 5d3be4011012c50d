"""Fixtures for the Modbus tests: pymodbus's own server as a real peer, in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Peer:
    """pymodbus's StartAsyncTcpServer in a subprocess; stop and start it to make the device go away."""

    def __init__(self, framer: str) -> None:
        self.port = free_port()
        self.framer = framer
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.modbus.peer_server", str(self.port), self.framer],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture
def peer_factory() -> Iterator[Callable[[str], Peer]]:
    """Start pymodbus peers with the given framer; every one is killed after the test."""
    peers: list[Peer] = []

    def make(framer: str) -> Peer:
        peer = Peer(framer)
        peer.start()
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()
