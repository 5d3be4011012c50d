"""Drive the real-client peers (tests/peers/ocpp16_station.py, ocpp201_station.py) from trio tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

PEERS = Path(__file__).resolve().parent.parent / "peers"
PEER = PEERS / "ocpp16_station.py"
PEER_201 = PEERS / "ocpp201_station.py"


class PeerStation:
    """The ``ocpp`` package's ChargePoint in a subprocess, as a real station."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._results_send, self.results = trio.open_memory_channel[dict[str, Any]](100)
        self._received_send, self.received = trio.open_memory_channel[dict[str, Any]](100)
        self._connected_send, self.connected = trio.open_memory_channel[dict[str, Any]](100)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        async for chunk in self.process.stdout:
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                if "received" in message:
                    await self._received_send.send(message)
                elif "connected" in message or "refused" in message:
                    await self._connected_send.send(message)
                else:
                    await self._results_send.send(message)

    async def _write(self, obj: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all((json.dumps(obj) + "\n").encode())

    async def call(self, action: str, **payload: Any) -> dict[str, Any]:
        """A station-initiated call; the CSMS's reply as a dict (snake_case, as the client parses it)."""
        await self._write({"call": action, "payload": payload})
        with trio.fail_after(20):
            message = await self.results.receive()
        if "error" in message:
            raise PeerCallFailed(message["error"])
        result: dict[str, Any] = message["result"]
        return result

    async def next_received(self) -> dict[str, Any]:
        """The next CSMS-initiated command the station answered: {"received": action, "payload": ...}."""
        with trio.fail_after(20):
            return await self.received.receive()

    async def wait_connected(self) -> None:
        with trio.fail_after(20):
            message = await self.connected.receive()
        if "refused" in message:
            raise PeerRefused(message["refused"])

    async def reconnect(self) -> None:
        await self._write({"reconnect": True})
        await self.wait_connected()


class PeerCallFailed(Exception):
    """The CSMS answered the peer's call with a CALLERROR (or the call failed)."""


class PeerRefused(Exception):
    """The CSMS refused the peer's WebSocket upgrade; ``args[0]`` is the HTTP status."""


@asynccontextmanager
async def peer_station(
    url: str, station_id: str, version: str = "1.6", env: dict[str, str] | None = None
) -> AsyncIterator[PeerStation]:
    """Start the peer process (an OCPP ``version`` station) connected to ``url``/``station_id``; stop it
    (and its process) on exit.

    ``env``: ``PEER_PASSWORD``, ``PEER_CA``, ``PEER_CERT`` (see the 1.6 peer's docstring); a refused
    connection raises :class:`PeerRefused`.
    """
    script = PEER_201 if version == "2.0.1" else PEER
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", f"tests.peers.{script.stem}", url, station_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=PEERS.parent.parent,
        env={**os.environ, **(env or {})},
    )
    peer = PeerStation(process)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer._read)
            await peer.wait_connected()
            yield peer
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
