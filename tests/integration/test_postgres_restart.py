"""The real ``chargeward serve --store postgresql://...`` while its PostgreSQL really restarts.

The server has a PostgreSQL of its own (``tests.pg.private_server``: a cluster in a temporary
directory, ``fsync`` on), so restarting it disturbs no other test. Real stations (the ``ocpp``
package's ChargePoint) send MeterValues without a pause while that PostgreSQL is restarted three
times: ``pg_ctl restart -m fast`` (a clean shutdown), ``pg_ctl restart -m immediate`` (a crash: every
PostgreSQL process killed, the WAL replayed at the start), and a crash followed by two seconds
with no server at all before it starts again. A station retries a message that got a CALLERROR, as
chargers do.

Checked: every message the server acknowledged is in the log after the crashes; the others got a
CALLERROR (or no answer) and nothing else; the server, never restarted itself, goes on: every
station's next messages are answered, a new station boots, the API answers.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from adapters.stores import open_store
from tests import pg
from tests.integration.metered_load import READY, booted_peers, meter, metered_values, send_until
from tests.integration.peer import peer_station
from tests.integration.serving import serving
from tests.integration.test_server_restart import ocpp_url

pytestmark = pytest.mark.slow

STATIONS = ("CP-RST-1", "CP-RST-2", "CP-RST-3")
DOWN_SECONDS = 3.0
CONNECT_TIMEOUT = 1  # seconds a message waits for a connection: less than DOWN_SECONDS


@pytest.fixture
def server() -> object:
    with pg.private_server() as server:
        yield server


async def _restarts(server: pg.PrivateServer) -> None:
    """The three restarts, a second of load before each and after the last."""
    await trio.sleep(1.0)
    await trio.to_thread.run_sync(server.restart, "fast")
    await trio.sleep(1.0)
    await trio.to_thread.run_sync(server.restart, "immediate")
    await trio.sleep(1.0)
    await trio.to_thread.run_sync(server.stop)
    await trio.sleep(DOWN_SECONDS)
    await trio.to_thread.run_sync(server.start)
    await trio.sleep(1.0)


async def test_every_acknowledged_message_is_stored_across_postgresql_restarts(
    tmp_path: Path, server: pg.PrivateServer
) -> None:
    config = tmp_path / "chargeward.toml"
    config.write_text(f'[store]\nurl = "{server.url}?connect_timeout={CONNECT_TIMEOUT}"\n')
    ports = ("--ocpp-port", "0", "--api-port", "0", "--data-dir", str(tmp_path / "data"))
    acked: dict[str, list[int]] = {station: [] for station in STATIONS}
    failures: list[str] = []
    async with serving("--config", str(config), *ports, until=READY) as served:
        url = ocpp_url(served.banner)
        async with booted_peers(url, STATIONS) as peers:
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                for station, peer in peers.items():
                    nursery.start_soon(send_until, peer, acked[station], failures, stop)
                await _restarts(server)
                stop.set()
            # The server goes on, not restarted: every station's next messages are answered.
            for peer in peers.values():
                for value in (100_001, 100_002):
                    await meter(peer, value)
            async with peer_station(url, "CP-RST-NEW") as new:
                boot = await new.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
                assert boot["status"] == "Accepted"
            async with httpx.AsyncClient(base_url=served.api_url, timeout=30) as api:
                listed = (await api.get("/api/stations")).json()
            assert {s["station_id"] for s in listed["stations"] if s["connected"]} >= set(STATIONS)
            assert "CP-RST-NEW" in {s["station_id"] for s in listed["stations"]}
        assert served.process.returncode is None

    acknowledged = sum(map(len, acked.values()))
    print(f"{acknowledged} acknowledged; failed: {failures}")
    assert all(acked.values())
    assert failures  # the server was down longer than a message waits: some got a CALLERROR
    kinds = {failure.split(":")[0] for failure in failures}
    assert kinds <= {"InternalError", "GenericError", "TimeoutError"}, failures
    async with open_store(server.url) as store:
        for station in STATIONS:
            stored = metered_values(await store.read_stream(f"station/{station}"))
            missing = set(acked[station]) - set(stored)
            assert not missing, f"{station}: acknowledged but not stored: {sorted(missing)}"
            assert {100_001, 100_002} <= set(stored)
