"""The real ``chargeward serve --store postgresql://...`` while PostgreSQL drops its connections.

Real stations (the ``ocpp`` package's ChargePoint) send MeterValues without a pause while, three
times over, every PostgreSQL connection of the server is terminated again and again for two seconds
(``pg_terminate_backend`` on its ``application_name``, set through libpq's ``PGAPPNAME``): to the
server, a PostgreSQL restart (its connections are closed with "terminating connection due to
administrator command" and new ones fail until it is back), without restarting the machine's
PostgreSQL under the other tests that use it. A station retries a message that got a CALLERROR, as
chargers do.

Checked: every message the server acknowledged is in the log; the others got a CALLERROR (or no
answer) and nothing else; afterwards the server goes on: every station's next messages are
answered, a new station boots, the API answers.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import trio

from adapters.stores import open_store
from tests import pg
from tests.integration.metered_load import READY, booted_peers, meter, metered_values, send_until
from tests.integration.peer import peer_station
from tests.integration.serving import serving
from tests.integration.test_server_restart import ocpp_url

pytestmark = pytest.mark.slow

STATIONS = ("CP-OUT-1", "CP-OUT-2", "CP-OUT-3")
CUTS = 3
CUT_SECONDS = 2.0


@pytest.fixture
def store_url() -> object:
    with pg.schemas() as schemas:
        yield schemas.url()


def _terminate(app: str) -> int:
    """Terminate every backend of ``app``; how many."""
    with psycopg.connect(pg.server_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (app,),
        ).fetchall()
    return len(rows)


async def _cut(app: str) -> int:
    """Keep ``app`` off PostgreSQL for CUT_SECONDS: its connections, old and new, terminated."""
    killed = 0
    with trio.move_on_after(CUT_SECONDS):
        while True:
            killed += await trio.to_thread.run_sync(_terminate, app)
            await trio.sleep(0.05)
    return killed


async def test_every_acknowledged_message_is_stored_across_lost_connections(
    tmp_path: Path, store_url: str
) -> None:
    app = f"cw-outage-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "chargeward.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n')
    ports = ("--ocpp-port", "0", "--api-port", "0", "--data-dir", str(tmp_path / "data"))
    acked: dict[str, list[int]] = {station: [] for station in STATIONS}
    failures: list[str] = []
    killed = 0
    async with serving("--config", str(config), *ports, until=READY, env={"PGAPPNAME": app}) as server:
        url = ocpp_url(server.banner)
        async with booted_peers(url, STATIONS) as peers:
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                for station, peer in peers.items():
                    nursery.start_soon(send_until, peer, acked[station], failures, stop)
                for _ in range(CUTS):
                    await trio.sleep(1.0)
                    killed += await _cut(app)
                await trio.sleep(1.0)
                stop.set()
            # The server goes on: every station's next messages are answered at once.
            for peer in peers.values():
                for value in (100_001, 100_002):
                    await meter(peer, value)
            async with peer_station(url, "CP-OUT-NEW") as new:
                boot = await new.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
                assert boot["status"] == "Accepted"
            async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as api:
                listed = (await api.get("/api/stations")).json()
            assert {s["station_id"] for s in listed["stations"] if s["connected"]} >= set(STATIONS)

    acknowledged = sum(map(len, acked.values()))
    print(f"{killed} connections terminated; {acknowledged} acknowledged; failed: {failures}")
    assert killed >= CUTS  # the server's connections really were cut
    # What a station was not answered with a result, it was answered with a CALLERROR (or not at all).
    kinds = {failure.split(":")[0] for failure in failures}
    assert kinds <= {"InternalError", "GenericError", "TimeoutError"}, failures
    async with open_store(store_url) as store:
        for station in STATIONS:
            stored = metered_values(await store.read_stream(f"station/{station}"))
            missing = set(acked[station]) - set(stored)
            assert not missing, f"{station}: acknowledged but not stored: {sorted(missing)}"
            assert {100_001, 100_002} <= set(stored)
