"""Two real ``chargeward serve`` nodes sharing one PostgreSQL schema, a real station (the ``ocpp``
package's ChargePoint in a subprocess) moving between them.

- a command sent through node B's API reaches the station on node A and the reply comes back;
  ``/api/nodes`` lists both nodes and the lease; node A is killed with -9, the station reconnects to
  B and goes on: everything it was answered is in the log, its new transaction id is unique, and a
  command for it once it left answers 409;
- a node paused with SIGSTOP loses its lease to the other node and, woken, cannot append a single
  event for the station (the lease epoch is checked in each commit's transaction).

Each test has a schema of its own (tests/pg.py). Leases last 3 s here, so the paused node's lease
runs out quickly.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import trio
from psycopg import sql

from adapters.config import ConfigError, NodeOptions, load_config
from adapters.stores import open_store
from core.codec import pack, unpack
from tests import pg
from tests.integration.peer import PeerCallFailed, peer_station
from tests.integration.serving import ROOT, serving
from tests.integration.test_server_restart import ocpp_url

STATION = "CP-NODES"
T0 = "2026-11-27T06:00:00Z"
READY = b"(docs at /docs)"

pytestmark = pytest.mark.slow


@pytest.fixture
def store_url() -> object:
    with pg.schemas() as schemas:
        yield schemas.url()


def _config(tmp_path: Path, store_url: str, name: str | None) -> list[str]:
    """A TOML file with the store, a short lease and (if given) the node name; the serve arguments."""
    path = tmp_path / f"{name or 'flag'}.toml"
    node = f'name = "{name}"\n' if name else ""
    path.write_text(
        f'[store]\nurl = "{store_url}"\n[node]\n{node}lease_seconds = 3\n'
        '[fleet]\nunknown_id_tags = "Accepted"\n'
    )
    ports = ["--ocpp-port", "0", "--api-port", "0"]
    return ["--config", str(path), *ports, "--data-dir", str(tmp_path / "data")]


async def _frames(store_url: str) -> list[tuple[str, dict[str, object]]]:
    async with open_store(store_url) as store:
        records = await store.read_stream(f"station/{STATION}")
    return [(r.type, dict(r.data)) for r in records]


async def _wait_for_lease(api: httpx.AsyncClient, holder: str | None) -> dict[str, object]:
    """/api/nodes once the station's lease is held by ``holder`` (None: by no node)."""
    with trio.fail_after(20):
        while True:
            nodes = (await api.get("/api/nodes")).json()
            held = {lease["station"]: node["node"] for node in nodes["nodes"] for lease in node["leases"]}
            if held.get(STATION) == holder:
                return dict(nodes)
            await trio.sleep(0.2)


def _missed_call_answered(store_url: str) -> bytes:
    """Insert a call to node A without its NOTIFY, terminate node A's listening connection, and
    wait for the reply node A writes into the row once it listens again."""
    schema = store_url.split("schema=")[1]
    body = pack({"action": "GetLocalListVersion", "payload": {}, "timeout": 30})
    with psycopg.connect(pg.server_url(), autocommit=True) as conn:
        call_id = conn.execute(
            sql.SQL(
                "INSERT INTO {}.chargeward_calls (from_node, to_node, station, body) "
                "VALUES ('node-b', 'node-a', %s, %s) RETURNING id"
            ).format(sql.Identifier(schema)),
            (STATION, body),
        ).fetchone()[0]  # type: ignore[index]
        terminated = conn.execute(  # its row in chargeward_nodes names its listening backend
            sql.SQL("SELECT pg_terminate_backend(pid) FROM {}.chargeward_nodes WHERE node = 'node-a'").format(
                sql.Identifier(schema)
            )
        ).fetchall()
        assert len(terminated) == 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = conn.execute(
                sql.SQL("SELECT reply FROM {}.chargeward_calls WHERE id = %s").format(sql.Identifier(schema)),
                (call_id,),
            ).fetchone()
            if row is not None and row[0] is not None:
                return bytes(row[0])
            time.sleep(0.1)
    raise AssertionError("node A did not serve the call it missed")


async def _wait_for_connected(api: httpx.AsyncClient, connected: bool) -> None:
    with trio.fail_after(20):
        while True:
            if (await api.get(f"/api/stations/{STATION}")).json()["connected"] is connected:
                return
            await trio.sleep(0.1)


async def test_command_through_b_then_kill_9_of_a_moves_the_station_to_b(
    tmp_path: Path, store_url: str
) -> None:
    answered: list[str] = []
    async with (
        serving(*_config(tmp_path, store_url, "node-a"), until=READY) as a,
        serving(*_config(tmp_path, store_url, None), "--node", "node-b", until=READY) as b,
        httpx.AsyncClient(base_url=b.api_url, timeout=30) as api_b,
    ):
        async with peer_station(ocpp_url(a.banner), STATION) as station:
            boot = await station.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
            assert boot["status"] == "Accepted"
            answered.append("BootNotification")
            started = await station.call(
                "StartTransaction", connector_id=1, id_tag="TAG-1", meter_start=0, timestamp=T0
            )
            answered.append("StartTransaction")
            first_tx = started["transaction_id"]
            await station.call(
                "MeterValues",
                connector_id=1,
                transaction_id=first_tx,
                meter_value=[{"timestamp": T0, "sampled_value": [{"value": "100"}]}],
            )
            answered.append("MeterValues")

            nodes = await _wait_for_lease(api_b, "node-a")
            assert nodes["node"] == "node-b"
            assert {n["node"]: n["alive"] for n in nodes["nodes"]} == {"node-a": True, "node-b": True}

            # A command through node B's API reaches the station on node A; its reply comes back.
            reply = await api_b.post(f"/api/stations/{STATION}/commands/GetLocalListVersion", json={})
            assert reply.status_code == 200, reply.text
            assert reply.json()["payload"] == {"listVersion": 7}
            assert (await station.next_received())["received"] == "GetLocalListVersion"
            # A call whose NOTIFY node A missed (its listening connection was down) is served once
            # node A listens again: the row is there, the connection is cut, the reply comes.
            reply_row = await trio.to_thread.run_sync(_missed_call_answered, store_url)
            assert unpack(reply_row) == {"ok": {"listVersion": 7}}
            assert (await station.next_received())["received"] == "GetLocalListVersion"
            # Metrics per node, labelled with its name.
            async with httpx.AsyncClient(base_url=a.api_url, timeout=30) as api_a:
                on_a = (await api_a.get("/metrics")).text
            assert 'chargeward_node_leases{node="node-a"} 1.0' in on_a
            assert 'chargeward_node_commands_served_total{node="node-a"} 2.0' in on_a
            on_b = (await api_b.get("/metrics")).text
            assert 'chargeward_node_commands_forwarded_total{node="node-b"} 1.0' in on_b
            assert 'chargeward_node_leases{node="node-b"} 0.0' in on_b
            # Node B's live projection follows the shared log: it sees the station node A serves.
            seen = (await api_b.get(f"/api/stations/{STATION}")).json()
            assert seen["connected"] is True

            a.process.kill()  # SIGKILL: no release of the lease, no clean close of anything
            with trio.fail_after(20):
                await a.process.wait()
            killed_at = trio.current_time()
            # Node B marks the station disconnected in the log: its API no longer shows it connected.
            await _wait_for_connected(api_b, False)
            print(f"node B showed the station disconnected {trio.current_time() - killed_at:.2f} s after")
            on_b = (await api_b.get("/metrics")).text
            assert 'chargeward_node_orphans_closed_total{node="node-b"} 1.0' in on_b

        async with peer_station(ocpp_url(b.banner), STATION) as station:
            boot = await station.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
            served_after = trio.current_time() - killed_at
            assert boot["status"] == "Accepted"
            await station.call(
                "StopTransaction", transaction_id=first_tx, meter_stop=500, timestamp=T0, reason="Local"
            )
            started = await station.call(
                "StartTransaction", connector_id=1, id_tag="TAG-1", meter_start=500, timestamp=T0
            )
            assert started["transaction_id"] != first_tx
            nodes = await _wait_for_lease(api_b, "node-b")
            assert {n["node"]: n["alive"] for n in nodes["nodes"]} == {"node-a": False, "node-b": True}
        print(f"station served by node B {served_after:.2f} s after node A was killed")
        assert served_after < 30

        # Gone from every node: a command for it finds no node holding it.
        await _wait_for_lease(api_b, None)  # released as its connection ended
        reply = await api_b.post(f"/api/stations/{STATION}/commands/GetLocalListVersion", json={})
        assert reply.status_code == 409, reply.text
        assert reply.json()["error"] == "station_offline"

    frames = await _frames(store_url)
    received = [d["action"] for t, d in frames if t == "FrameReceived"]
    assert received[: len(answered)] == answered  # nothing node A acknowledged was lost
    after_a = [
        "GetLocalListVersion",
        "GetLocalListVersion",
        "BootNotification",
        "StopTransaction",
        "StartTransaction",
    ]
    assert received[len(answered) :] == after_a  # the command's reply, then the station on node B
    starts = [d["transaction_id"] for t, d in frames if t == "TransactionStarted"]
    assert len(starts) == len(set(starts)) == 2
    closes = [d["reason"] for t, d in frames if t == "StationDisconnected"]
    assert closes[0] == "node node-a is gone"  # written by node B, before the station came back


async def test_a_paused_node_that_lost_its_lease_cannot_write(tmp_path: Path, store_url: str) -> None:
    async with (
        serving(*_config(tmp_path, store_url, "node-a"), until=READY) as a,
        serving(*_config(tmp_path, store_url, "node-b"), until=READY) as b,
        httpx.AsyncClient(base_url=b.api_url, timeout=30) as api_b,
        peer_station(ocpp_url(a.banner), STATION) as old,
    ):
        boot = await old.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
        assert boot["status"] == "Accepted"
        await _wait_for_lease(api_b, "node-a")
        a.process.send_signal(signal.SIGSTOP)
        try:
            # Node A's lease runs out (its process lives): node B marks the station disconnected.
            await _wait_for_connected(api_b, False)
            async with peer_station(ocpp_url(b.banner), STATION) as new:
                # Node B waits for node A's lease to run out (A's process lives: no immediate take).
                boot = await new.call("BootNotification", charge_point_model="N", charge_point_vendor="V")
                assert boot["status"] == "Accepted"
                nodes = await _wait_for_lease(api_b, "node-b")
                assert {n["node"]: n["alive"] for n in nodes["nodes"]} == {"node-a": True, "node-b": True}
                a.process.send_signal(signal.SIGCONT)
                # Node A wakes believing it serves the station; the old connection speaks to it.
                with pytest.raises(PeerCallFailed):
                    await old.call("Heartbeat")
                # The station goes on on node B.
                await new.call("StatusNotification", connector_id=1, error_code="NoError", status="Available")
        finally:
            a.process.send_signal(signal.SIGCONT)

    frames = await _frames(store_url)
    received = [d["action"] for t, d in frames if t == "FrameReceived"]
    assert "Heartbeat" not in received  # node A stored nothing after it lost the lease
    assert received == ["BootNotification", "BootNotification", "StatusNotification"]
    closes = [d["reason"] for t, d in frames if t == "StationDisconnected"]
    assert closes[0] == "node node-a let its lease expire"


def test_node_settings_and_their_errors(tmp_path: Path) -> None:
    """``[node]`` from the file and the environment; a bad name or a store nodes cannot share is
    one line and exit 2, through the real executable."""
    path = tmp_path / "node.toml"
    path.write_text('[node]\nname = "node-a"\nlease_seconds = 4\n')
    assert load_config(path).node == NodeOptions("node-a", 4.0)
    assert load_config(path, environ={"CHARGEWARD_NODE_NAME": "node-b"}).node == NodeOptions("node-b", 4.0)
    path.write_text('[node]\nname = "a/b"\n')
    with pytest.raises(ConfigError, match=r"node\.name: a node name is 1-64"):
        load_config(path)

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "adapters.cli",
            "serve",
            "--ocpp-port",
            "0",
            "--api-port",
            "0",
            *args,
        ]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    done = serve("--node", "no good", "--store", "memory://")
    assert (done.returncode, done.stderr.strip().count("\n")) == (2, 0), done.stderr
    assert "--node: a node name is 1-64" in done.stderr
    done = serve("--node", "node-a", "--store", f"sqlite:///{tmp_path / 'events.db'}")
    assert (done.returncode, done.stderr.strip().splitlines()[-1:]) == (
        2,
        [
            f"chargeward: configuration: node.name: several nodes share a postgresql:// store; node 'node-a' "
            f"was given sqlite:///{tmp_path / 'events.db'}"
        ],
    ), done.stderr
