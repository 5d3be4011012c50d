"""Load for the store chaos tests: many stations against a real ``chargeward serve``, and the audit.

Each station connects (the bench's WebSocket client) and sends a Heartbeat or a StatusNotification
every ``period`` seconds, one at a time, and keeps the message ids the server answered with a
CALLRESULT. After the run, :func:`unlogged` reads the server's SQLite log and lists every acknowledged
message that is not there: the durability rule says that list must be empty, whatever was injected.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import trio

from actors.events.station import FrameReceived
from adapters.stores import open_store
from bench.ws_transport import TransportClosed, WsTransport


@dataclass
class Fleet:
    """What the simulated stations saw; they stop sending once ``stop`` is set."""

    size: int

    acked: dict[str, list[str]] = field(default_factory=dict)  # station -> ids answered CALLRESULT
    last_ack: dict[str, float] = field(default_factory=dict)  # station -> trio time of its last ack
    errors: Counter[str] = field(default_factory=Counter)  # CALLERROR codes received
    unanswered: int = 0
    closed: list[str] = field(default_factory=list)  # stations whose connection the server closed
    connected: int = 0
    all_connected: trio.Event = field(default_factory=trio.Event)
    stop: trio.Event = field(default_factory=trio.Event)

    @property
    def acks(self) -> int:
        return sum(len(ids) for ids in self.acked.values())


async def station(url: str, station_id: str, fleet: Fleet, period: float) -> None:
    """One station sending until ``fleet.stop``; what it sees goes into ``fleet``."""
    transport = await WsTransport.connect(f"{url}/{station_id}", "ocpp1.6", within=120)
    fleet.connected += 1
    if fleet.connected == fleet.size:
        fleet.all_connected.set()
    acked = fleet.acked.setdefault(station_id, [])
    n = 0
    try:
        while not fleet.stop.is_set():
            n += 1
            unique_id = f"{station_id}-{n}"
            if n % 2:
                action, payload = "Heartbeat", {}
            else:
                status = "Available" if n % 4 else "Unavailable"
                action = "StatusNotification"
                payload = {"connectorId": 1, "errorCode": "NoError", "status": status}
            await transport.send(json.dumps([2, unique_id, action, payload]))
            deadline = trio.current_time() + 120
            while True:
                text = await transport.receive(deadline)
                if text is None:
                    fleet.unanswered += 1
                    break
                frame = json.loads(text)
                if frame[0] in (3, 4) and frame[1] == unique_id:
                    if frame[0] == 3:
                        acked.append(unique_id)
                        fleet.last_ack[station_id] = trio.current_time()
                    else:
                        fleet.errors[str(frame[2])] += 1
                    break
            await trio.sleep(period)
    except (TransportClosed, trio.BrokenResourceError, OSError):  # a close, or a reset by a dead server
        fleet.closed.append(station_id)
    finally:
        await transport.aclose()


async def start_fleet(nursery: trio.Nursery, url: str, prefix: str, fleet: Fleet, period: float) -> None:
    """Start ``fleet.size`` stations, ``PREFIX-000`` on, in ``nursery``; return once all are connected."""
    for i in range(fleet.size):
        nursery.start_soon(station, url, f"{prefix}-{i:03d}", fleet, period)
    await fleet.all_connected.wait()


def committer_of(server_pid: int) -> int:
    """The pid of the SQLite committer child of the server process ``server_pid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server_pid and b"sqlite_committer" in cmdline:
            return int(entry.name)
    raise AssertionError(f"server {server_pid} has no committer child")


async def unlogged(data_dir: Path, fleet: Fleet) -> list[str]:
    """Acknowledged message ids with no FrameReceived in the log (read after the server stopped)."""
    logged: set[str] = set()
    async with open_store(f"sqlite://{data_dir}/events.db") as store:
        after = 0
        while batch := await store.read_all(after, limit=5000):
            for record in batch:
                if record.type == FrameReceived.TYPE:
                    frame = json.loads(record.data["text"])
                    logged.add(str(frame[1]))
            after = batch[-1].position
    return [uid for ids in fleet.acked.values() for uid in ids if uid not in logged]
