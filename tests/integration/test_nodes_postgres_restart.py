"""Two real ``chargeward serve`` nodes while their PostgreSQL really restarts, then a node killed.

The nodes share a PostgreSQL of their own (``tests.pg.private_server``, ``fsync`` on), so restarting
it disturbs no other test. A real station (the ``ocpp`` package's ChargePoint) on each node sends
MeterValues without a pause (a message that got a CALLERROR is sent again, as chargers do).

- PostgreSQL crashes and restarts (``pg_ctl restart -m immediate``): every session of both nodes
  ends, the listening ones included, so for a moment neither node's session is in
  ``pg_stat_activity``. Neither node takes the other's stations for that (no lease changes hands,
  no ``StationDisconnected`` is appended): both stations stay on their node and are answered.
- Node A is killed with -9 and PostgreSQL crashes and restarts again at once: A's station,
  reconnecting to node B, is served there.

Checked at the end: every message a station was answered is in the log.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
import trio

from adapters.stores import open_store
from tests import pg
from tests.integration.metered_load import READY, meter, metered_values, send_until
from tests.integration.peer import PeerCallFailed, peer_station
from tests.integration.serving import serving
from tests.integration.test_server_restart import ocpp_url

pytestmark = pytest.mark.slow

ON_A, ON_B = "CP-NR-A", "CP-NR-B"
LEASE_SECONDS = 6  # longer than PostgreSQL's crash restart takes, even on a loaded machine


@pytest.fixture
def server() -> object:
    with pg.private_server() as server:
        yield server


def _config(tmp_path: Path, url: str, name: str) -> list[str]:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[store]\nurl = "{url}"\n[node]\nname = "{name}"\nlease_seconds = {LEASE_SECONDS}\n')
    ports = ["--ocpp-port", "0", "--api-port", "0"]
    return ["--config", str(path), *ports, "--data-dir", str(tmp_path / f"data-{name}")]


async def _leases(api: httpx.AsyncClient) -> dict[str, str]:
    """station -> node holding its lease, from /api/nodes (retried while PostgreSQL is away)."""
    with trio.fail_after(30):
        while True:
            reply = await api.get("/api/nodes")
            if reply.status_code == 200:
                return {lease["station"]: n["node"] for n in reply.json()["nodes"] for lease in n["leases"]}
            await trio.sleep(0.2)


async def _types(url: str, station: str) -> list[str]:
    async with open_store(url) as store:
        return [record.type for record in await store.read_stream(f"station/{station}")]


async def _boot(peer: object) -> None:
    with trio.fail_after(40):
        while True:
            try:
                boot = await peer.call(  # type: ignore[attr-defined]
                    "BootNotification", charge_point_model="M", charge_point_vendor="V"
                )
            except PeerCallFailed:
                await trio.sleep(0.5)
                continue
            assert boot["status"] == "Accepted"
            return


async def test_nodes_keep_their_stations_across_a_postgresql_crash_and_fail_over_after_one(
    tmp_path: Path, server: pg.PrivateServer
) -> None:
    acked: dict[str, list[int]] = {ON_A: [], ON_B: []}
    failures: list[str] = []
    async with (
        serving(*_config(tmp_path, server.url, "node-a"), until=READY) as a,
        serving(*_config(tmp_path, server.url, "node-b"), until=READY) as b,
        httpx.AsyncClient(base_url=b.api_url, timeout=30) as api_b,
        peer_station(ocpp_url(b.banner), ON_B) as on_b,
    ):
        async with peer_station(ocpp_url(a.banner), ON_A) as on_a:
            await _boot(on_a)
            await _boot(on_b)
            assert await _leases(api_b) == {ON_A: "node-a", ON_B: "node-b"}
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(send_until, on_a, acked[ON_A], failures, stop)
                nursery.start_soon(send_until, on_b, acked[ON_B], failures, stop)
                await trio.sleep(1.0)
                await trio.to_thread.run_sync(server.restart, "immediate")
                # Long enough for both nodes to reconnect and run their orphan sweeps (every third
                # of a lease).
                await trio.sleep(LEASE_SECONDS / 3 * 2)
                stop.set()
            for peer in (on_a, on_b):
                await meter(peer, 100_001)
            assert await _leases(api_b) == {ON_A: "node-a", ON_B: "node-b"}
            for station in (ON_A, ON_B):
                assert "StationDisconnected" not in await _types(server.url, station)

            a.process.send_signal(signal.SIGKILL)
            await trio.to_thread.run_sync(server.restart, "immediate")
            with trio.fail_after(20):
                await a.process.wait()
        async with peer_station(ocpp_url(b.banner), ON_A) as moved:
            await _boot(moved)
            await meter(moved, 100_002)
        await meter(on_b, 100_002)

    kinds = {failure.split(":")[0] for failure in failures}
    assert kinds <= {"InternalError", "GenericError", "TimeoutError"}, failures
    async with open_store(server.url) as store:
        for station in (ON_A, ON_B):
            stored = metered_values(await store.read_stream(f"station/{station}"))
            missing = set(acked[station]) - set(stored)
            assert acked[station]
            assert not missing, f"{station}: acknowledged but not stored: {sorted(missing)}"
            assert {100_001, 100_002} <= set(stored)
