"""Site load management end to end: the real ``chargeward serve`` with a TOML site, three ``ocpp``
package stations whose cars draw what their profiles allow, and a pymodbus grid meter that reads the
cars' draw plus a non-EV load the test sets.

One run goes through the issue's cases in turn: every station is secured with the failsafe at boot;
three cars share what the non-EV load leaves; a car stops and the others get its share; the non-EV
load rises and the cars are cut; limits set by sources over the API bind (the lower wins, DELETE lifts
it); the meter fails and the failsafe current applies.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import trio

from tests.integration.peer import PeerStation, peer_station
from tests.integration.serving import ROOT, serving
from tests.modbus.conftest import free_port
from tests.modbus_actors.conftest import listening, until
from tests.peers.grid_meter import PROFILE

T = TypeVar("T")
NOW = "2026-11-27T08:00:00Z"
CAR_MAX = 32.0  # what a car would draw unlimited

CONFIG = """
[fleet]
unknown_id_tags = "Accepted"

[[modbus.devices]]
id = "grid"
transport = "tcp"
host = "127.0.0.1"
port = {port}
unit = 1
profile = "grid_meter.toml"
interval = 0.2
stale_after = 3
timeout = 0.5
site = "depot"

[sites.depot]
max_current = 40
meter = "grid"
min_current = 6
policy = "equal"
stations = ["CP-1", "CP-2", "CP-3"]
failsafe_current = 6
round_interval = 1
debounce = 0.1
deadband = 0.5
min_interval = 0
meter_timeout = 3
profile_validity = 60
"""


class GridMeter:
    """The pymodbus grid meter subprocess; it reads what :meth:`set` last gave it."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.lock = trio.Lock()

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        async with self.lock:
            await self.process.stdin.send_all(f"{line}\n".encode())
            with trio.fail_after(10):
                assert await self.process.stdout.receive_some(3) == b"ok\n"


@dataclass
class Site:
    """The cars (each drawing its connector's limit while charging) and the non-EV load on the meter."""

    meter: GridMeter
    non_ev: float = 10.0
    charging: dict[str, bool] = field(default_factory=dict)
    limit: dict[str, float] = field(default_factory=dict)  # the TxProfile's limit per station
    failsafe: dict[str, float] = field(default_factory=dict)  # the TxDefaultProfile on connector 0

    def draw(self, station: str) -> float:
        if not self.charging.get(station):
            return 0.0
        return min(CAR_MAX, self.limit.get(station, self.failsafe.get(station, CAR_MAX)))

    async def update_meter(self) -> None:
        load = self.non_ev + sum(self.draw(s) for s in self.charging)
        await self.meter.send(f"{load} {load} {load}")

    async def obey(self, station: str, peer: PeerStation) -> None:
        """Apply every SetChargingProfile the station accepts, as its car would."""
        async for message in peer.received:
            if message["received"] != "SetChargingProfile":
                continue
            payload = message["payload"]
            profile = payload["cs_charging_profiles"]
            limit = profile["charging_schedule"]["charging_schedule_period"][0]["limit"]
            if profile["charging_profile_purpose"] == "TxProfile":
                self.limit[station] = float(limit)
            elif payload["connector_id"] == 0:
                self.failsafe[station] = float(limit)
            await self.update_meter()


@asynccontextmanager
async def grid_meter(port: int) -> AsyncIterator[GridMeter]:
    command = [sys.executable, "-m", "tests.peers.grid_meter", str(port)]
    process = await trio.lowlevel.open_process(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        await listening(port)
        yield GridMeter(process)
    finally:
        with trio.CancelScope(shield=True):
            process.kill()
            await process.wait()


async def site_state(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/api/sites/depot")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def scrape(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


async def eventually(
    read: Callable[[httpx.AsyncClient], Awaitable[T]], client: httpx.AsyncClient, check: Callable[[T], bool]
) -> T:
    """What ``read`` gives once ``check`` holds for it (read every 0.1 s, for up to 30 s)."""
    with trio.fail_after(30):
        while True:
            found = await read(client)
            if check(found):
                return found
            await trio.sleep(0.1)


async def test_a_site_keeps_its_limit_with_real_stations_and_a_real_meter(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "grid_meter.toml").write_text(PROFILE)
    config = tmp_path / "chargeward.toml"
    config.write_text(CONFIG.format(port=port))
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    async with (
        grid_meter(port) as meter,
        serving(*args, until=b"(docs at /docs)") as served,
        httpx.AsyncClient(base_url=served.api_url, timeout=20) as client,
    ):
        site = Site(meter)
        await site.update_meter()
        found = re.search(r"OCPP on (ws://127\.0\.0\.1:\d+/ocpp)", served.banner)
        assert found is not None, served.banner
        async with (
            peer_station(found.group(1), "CP-1") as cp1,
            peer_station(found.group(1), "CP-2") as cp2,
            peer_station(found.group(1), "CP-3") as cp3,
            trio.open_nursery() as nursery,
        ):
            peers = {"CP-1": cp1, "CP-2": cp2, "CP-3": cp3}
            for station, peer in peers.items():
                nursery.start_soon(site.obey, station, peer)
                await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
            # Secured before anything charges: the failsafe TxDefaultProfile on connector 0.
            await until(lambda: site.failsafe == {"CP-1": 6.0, "CP-2": 6.0, "CP-3": 6.0}, 30)

            transactions = {}
            for station, peer in peers.items():
                started = await peer.call(
                    "StartTransaction", connector_id=1, id_tag="TAG", meter_start=0, timestamp=NOW
                )
                transactions[station] = started["transaction_id"]
                site.charging[station] = True
                await site.update_meter()
            # 40 A less 10 A of other load, shared by three
            await until(lambda: site.limit == {"CP-1": 10.0, "CP-2": 10.0, "CP-3": 10.0}, 30)

            # A car stops: the two others get its share.
            await cp1.call(
                "StopTransaction", transaction_id=transactions["CP-1"], meter_stop=1000, timestamp=NOW
            )
            site.charging["CP-1"] = False
            await site.update_meter()
            await until(lambda: site.limit.get("CP-2") == 15.0 and site.limit.get("CP-3") == 15.0, 30)

            # The non-EV load rises by 10 A: the cars are cut to what is left.
            site.non_ev = 20.0
            await site.update_meter()
            await until(lambda: site.limit["CP-2"] == 10.0 and site.limit["CP-3"] == 10.0, 30)
            assert site.non_ev + site.draw("CP-2") + site.draw("CP-3") <= 40.0

            # Limits by source: the grid operator's 34 A binds, the driver's 38 A cannot raise it.
            for source, value in (("grid_operator", 34.0), ("driver", 38.0)):
                answer = await client.put(
                    f"/api/sites/depot/limits/{source}", json={"unit": "A", "value": value}
                )
                assert answer.status_code == 200, answer.text
            await until(lambda: site.limit["CP-2"] == 7.0 and site.limit["CP-3"] == 7.0, 30)
            state = await site_state(client)
            assert state["limits"]["binding"] == {"value": 34.0, "unit": "A", "source": "grid_operator"}
            assert set(state["limits"]["sources"]) == {"grid_operator", "driver"}
            assert {c["station"]: c["in_force"] for c in state["connectors"]} == {"CP-2": 7.0, "CP-3": 7.0}
            assert state["failsafe"] is False
            # the meter's next poll reads the cars' new draw, and the next round sees it
            await eventually(site_state, client, lambda state: state["meter"]["current"] == [34.0] * 3)
            headroom = 'chargeward_site_headroom_amperes{phase="L2",site="depot"} 0.0'
            await eventually(scrape, client, lambda text: headroom in text)
            metrics = (await client.get("/metrics")).text
            assert 'chargeward_site_load_amperes{phase="L2",site="depot"} 34.0' in metrics
            assert 'chargeward_site_limit_amperes{site="depot"} 34.0' in metrics
            answer = await client.delete("/api/sites/depot/limits/grid_operator")
            assert answer.status_code == 200, answer.text
            # the driver's 38 A is what binds now
            await until(lambda: site.limit["CP-2"] == 9.0 and site.limit["CP-3"] == 9.0, 30)
            bad = await client.put("/api/sites/depot/limits/driver", json={"unit": "A"})
            assert bad.status_code == 422, bad.text
            assert (await client.get("/api/sites/nowhere")).status_code == 404

            # The meter fails: after its missed polls the site falls back to the failsafe current.
            await meter.send("fail")
            await until(lambda: site.limit["CP-2"] == 6.0 and site.limit["CP-3"] == 6.0, 30)
            state = await site_state(client)
            assert state["failsafe"] is True and state["last_round"] is not None
            listed = (await client.get("/api/sites")).json()
            assert [s["id"] for s in listed] == ["depot"]
            metrics = (await client.get("/metrics")).text
            for line in (
                'chargeward_site_failsafe{site="depot"} 1.0',
                'chargeward_site_allocation_amperes{connector="1",site="depot",station="CP-2"} 6.0',
                'chargeward_site_profile_sends_total{kind="failsafe",outcome="accepted",site="depot"} 3.0',
            ):
                assert line in metrics, line
            assert 'chargeward_site_rounds_total{reason="change",site="depot"}' in metrics
            assert 'chargeward_site_over_limit{site="depot"} 0.0' in metrics
            nursery.cancel_scope.cancel()
        assert await served.stop() == 0
