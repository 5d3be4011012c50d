"""The real ``chargeward serve`` on PostgreSQL: configured by ``[store] url`` in a TOML file, a real
station (the ``ocpp`` package's ChargePoint) boots and charges, the server is killed with -9 and
started again (``--store`` given as well this time, overriding the file): everything the station was
answered is in the log, the API and the transaction index, and the station goes on with a new, unique
transaction id. Then ``chargeward replay`` (and ``--rerun``) and ``events export``/``import`` on the
same URL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
import trio

from adapters.stores import open_store
from tests import pg
from tests.integration.peer import peer_station
from tests.integration.serving import ROOT, serving
from tests.integration.test_server_restart import ocpp_url

STATION = "CP-PG"
T0 = "2026-11-27T06:00:00Z"
READY = b"(docs at /docs)"


@pytest.fixture
def store_url() -> object:
    with pg.schemas() as schemas:
        yield schemas.url()


async def test_serve_on_postgres_survives_kill_9_with_nothing_acknowledged_lost(
    tmp_path: Path, store_url: str
) -> None:
    config = tmp_path / "chargeward.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n[fleet]\nunknown_id_tags = "Accepted"\n')
    ports = ("--ocpp-port", "0", "--api-port", "0", "--data-dir", str(tmp_path / "data"))
    answered: list[str] = []
    async with (
        serving("--config", str(config), *ports, until=READY) as first,
        peer_station(ocpp_url(first.banner), STATION) as station,
    ):
        boot = await station.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
        assert boot["status"] == "Accepted"
        answered.append("BootNotification")
        started = await station.call(
            "StartTransaction", connector_id=1, id_tag="TAG-PG", meter_start=1000, timestamp=T0
        )
        answered.append("StartTransaction")
        transaction_id = started["transaction_id"]
        for n in range(1, 6):
            await station.call(
                "MeterValues",
                connector_id=1,
                transaction_id=transaction_id,
                meter_value=[{"timestamp": T0, "sampled_value": [{"value": str(1000 + 100 * n)}]}],
            )
            answered.append("MeterValues")
        await station.call(
            "StopTransaction", transaction_id=transaction_id, meter_stop=1600, timestamp=T0, reason="Local"
        )
        answered.append("StopTransaction")
        first.process.kill()  # SIGKILL: no drain, no checkpoint, no clean close of the pool
        with trio.fail_after(20):
            await first.process.wait()

    async with open_store(store_url) as store:
        frames = await store.read_stream(f"station/{STATION}")
    sent = [r.data for r in frames if r.type == "FrameSent"]
    assert len(sent) >= len(answered)  # every CALLRESULT the station had was committed first
    received = [r.data["action"] for r in frames if r.type == "FrameReceived"]
    assert received[: len(answered)] == answered

    async with (
        serving("--config", str(config), "--store", store_url, *ports, until=READY) as second,
        httpx.AsyncClient(base_url=second.api_url) as client,
        peer_station(ocpp_url(second.banner), STATION) as station,
    ):
        reply = await client.get(f"/api/transactions/{transaction_id}")  # answers once the index caught up
        assert reply.status_code == 200, reply.text
        detail = reply.json()
        assert (detail["stopped"], detail["energy_wh"], detail["stop_reason"]) == (T0, 600, "Local")
        assert len(detail["samples"]) == 5
        view = (await client.get(f"/api/stations/{STATION}")).json()
        assert view["boot"]["vendor"] == "V", view["boot"]
        again = await station.call(
            "StartTransaction", connector_id=1, id_tag="TAG-PG", meter_start=1600, timestamp=T0
        )
        assert again["transaction_id"] != transaction_id
        assert await second.stop() == 0

    # The log's tools take the PostgreSQL URL too: replay, re-run, and a move to SQLite and back.
    replayed = await cli("replay", "--store", store_url, "--station", STATION, "--json")
    state = json.loads(replayed)
    assert state["stations"][0]["boot"]["vendor"] == "V"
    await cli("replay", "--config", str(config), "--rerun")  # exit 0: this build decides as logged
    export = tmp_path / "log.msgpack"
    await cli("events", "export", "--store", store_url, "--out", str(export))
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    await cli("events", "import", "--store", copy, str(export))
    assert json.loads(await cli("replay", "--store", copy, "--station", STATION, "--json")) == state


async def cli(*args: str) -> str:
    """``chargeward ARGS``; its stdout, after checking it exited 0."""
    with trio.fail_after(60):
        done = await trio.run_process(
            [sys.executable, "-m", "adapters.cli", *args],
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    if done.returncode != 0:
        print(done.stdout.decode()[-3000:], done.stderr.decode())
    assert done.returncode == 0, args
    return str(done.stdout.decode())


async def test_serve_says_in_one_line_why_postgres_cannot_be_opened(tmp_path: Path) -> None:
    url = pg.server_url().rsplit("/", 1)[0] + "/chargeward_no_such_database"
    with trio.fail_after(60):
        done = await trio.run_process(
            [sys.executable, "-m", "adapters.cli", "serve", "--store", url, "--data-dir", str(tmp_path)],
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    stderr = done.stderr.decode()
    assert done.returncode != 0
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and 'database "chargeward_no_such_database" does not exist' in lines[-1], stderr
    assert "Traceback" not in stderr
