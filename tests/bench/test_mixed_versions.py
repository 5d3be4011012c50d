"""The bench's simulated 2.0.1 station and mixed-version runs: its messages pass the 2.0.1 schemas, a
share of 2.0.1 stations is spread over the workers exactly, and ``chargeward simulate --ocpp-mix``
drives a real ``chargeward serve`` with stations of both versions charging side by side."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import httpx
import trio
from hypothesis import given
from hypothesis import strategies as st

from actors.ocpp.versions import V201
from bench.scenarios import Scenario
from bench.servers import REPO
from bench.sim_station201 import SimStation201
from tests.integration.serving import serving


def test_the_simulated_201_station_speaks_valid_201() -> None:
    station = SimStation201("sim1-00001", 1, seed=1)
    calls = [("BootNotification", station.boot_notification())]
    calls += [station.call_for(action, 1.0) for action in ("MeterValues", "Heartbeat", "Authorize")]
    calls.append(("StatusNotification", station.status_notification(0, "Available")))
    calls.append(("StatusNotification", station.status_notification(1, "Charging")))
    calls.append(station.start_call())
    calls += [station.call_for("MeterValues", 2.0 + n) for n in range(3)]
    calls.append(station.stop_call())
    for action, payload in calls:
        V201.strict.validate_request(action, payload)
    updates = [p for a, p in calls if a == "TransactionEvent"]
    assert [(p["eventType"], p["seqNo"]) for p in updates] == [
        ("Started", 0),
        ("Updated", 1),
        ("Updated", 2),
        ("Updated", 3),
        ("Ended", 4),
    ]
    assert len(updates[1]["meterValue"][0]["sampledValue"]) == 10
    assert json.loads(station.answer([2, "1", "GetVariables", {}]))[2] == {"getVariableResult": []}
    assert json.loads(station.answer([2, "2", "Nope", {}]))[2] == "NotImplemented"


@given(stations=st.integers(1, 60), share=st.floats(0, 1), workers=st.integers(1, 4))
def test_the_201_share_is_spread_over_the_workers(stations: int, share: float, workers: int) -> None:
    plans = Scenario("steady", stations=stations, ocpp201_share=share, workers=workers).plans("ws://x")
    speaking = [i for plan in plans for i in plan.ocpp201_ids]
    assert len(speaking) == len(set(speaking)) == int(stations * share)
    assert all(set(plan.ocpp201_ids) <= set(plan.station_ids) for plan in plans)


async def test_simulate_mixes_versions_against_chargeward_serve(tmp_path: Path) -> None:
    args = ("--data-dir", str(tmp_path / "data"), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args, until=b"(docs at /docs)") as served:
        found = re.search(r"OCPP on (ws://127\.0\.0\.1:\d+/ocpp)", served.banner)
        assert found is not None, served.banner
        out = tmp_path / "sim.json"
        command = [
            sys.executable,
            "-m",
            "adapters.cli",
            "simulate",
            "--url",
            found.group(1),
            "--stations",
            "4",
        ]
        command += ["--rate", "20", "--duration", "2", "--ocpp-mix", "0.5", "--json", str(out)]
        with trio.fail_after(120):
            done = await trio.run_process(command, cwd=REPO, capture_stdout=True, check=False)
        assert done.returncode == 0, done.stdout.decode()[-2000:]
        result = json.loads(out.read_text())
        assert result["setup"]["set_up"] == 4 and result["ocpp201_share"] == 0.5
        assert result["setup"]["per_action"]["StartTransaction"]["count"] == 2
        assert result["setup"]["per_action"]["TransactionEvent"]["count"] == 2
        assert result["teardown"]["errors"] == {} and result["steps"][0]["errors"] == {}
        async with httpx.AsyncClient(base_url=served.api_url, timeout=20) as client:
            stations = (await client.get("/api/stations")).json()["stations"]
            versions = sorted(s["ocpp_version"] for s in stations)
            listed = (await client.get("/api/transactions")).json()["transactions"]
        assert versions == ["1.6", "1.6", "2.0.1", "2.0.1"]
        assert sorted(type(t["transaction_id"]).__name__ for t in listed) == ["int", "int", "str", "str"]
        assert all(t["energy_wh"] is not None for t in listed), "each stopped with its energy"
