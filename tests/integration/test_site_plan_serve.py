"""The optimizer in a real ``chargeward serve``: a TOML site with ``optimizer = "cheapest"``, two ``ocpp``
1.6 stations and one 2.0.1 station (the ``ocpp`` package's ChargePoints).

A need set over the API waits for the cheap hours and the car without a need takes the room; the need
cleared, the cars share again; a 2.0.1 EV's NotifyEVChargingNeeds is answered Processing (a station
on an optimizing site: the schedule follows), is planned too and its plan goes out in 2.0.1's
SetChargingProfile; ``GET /api/sites/{id}``, the rounds and the connector's charging-needs show it. A
2.0.1 station on no site is answered Accepted (nothing will follow: it uses its own schedule).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.integration.peer import PeerStation, peer_station
from tests.integration.serving import serving
from tests.modbus_actors.conftest import until

CONFIG = """
[fleet]
unknown_id_tags = "Accepted"

[sites.depot]
max_current = 32
policy = "equal"
stations = ["CP-1", "CP-2", "EV-3"]
failsafe_current = 6
optimizer = "cheapest"
plan_slot = 900
plan_horizon = 86400
round_interval = 1
debounce = 0.1
deadband = 0.5
min_interval = 0
profile_validity = 60
"""


def _at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def obey(limits: dict[str, float], station: str, peer: PeerStation, profiles: list[Any]) -> None:
    """Record the first period's limit of each TxProfile the station is sent (either version's shape)."""
    async for message in peer.received:
        if message["received"] != "SetChargingProfile":
            continue
        payload = message["payload"]
        profile = payload.get("cs_charging_profiles") or payload.get("charging_profile")
        schedule = profile["charging_schedule"]
        schedule = schedule[0] if isinstance(schedule, list) else schedule
        if profile["charging_profile_purpose"] == "TxProfile":
            profiles.append((station, payload))
            limits[station] = float(schedule["charging_schedule_period"][0]["limit"])


async def planned_site(client: httpx.AsyncClient) -> dict[str, Any]:
    """``GET /api/sites/depot`` once its last round applied a plan (made in the background)."""
    with trio.fail_after(30):
        while True:
            state: dict[str, Any] = (await client.get("/api/sites/depot")).json()
            if state["plan"] is not None and state["plan"].get("connectors"):
                return state
            await trio.sleep(0.1)


async def test_a_site_plans_charging_needs_from_the_api_and_a_2_0_1_ev(tmp_path: Path) -> None:
    config = tmp_path / "chargeward.toml"
    config.write_text(CONFIG)
    args = ("--data-dir", str(tmp_path), "--config", str(config), "--ocpp-port", "0", "--api-port", "0")
    limits: dict[str, float] = {}
    profiles: list[Any] = []
    async with (
        serving(*args, until=b"(docs at /docs)") as served,
        httpx.AsyncClient(base_url=served.api_url, timeout=20) as client,
    ):
        found = re.search(r"OCPP on (ws://127\.0\.0\.1:\d+/ocpp)", served.banner)
        assert found is not None, served.banner
        url = found.group(1)

        async with (
            peer_station(url, "CP-1") as cp1,
            peer_station(url, "CP-2") as cp2,
            trio.open_nursery() as nursery,
        ):
            for station, peer in (("CP-1", cp1), ("CP-2", cp2)):
                nursery.start_soon(obey, limits, station, peer, profiles)
                await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
                await peer.call(
                    "StartTransaction", connector_id=1, id_tag="TAG", meter_start=0, timestamp=_at(0)
                )
            await until(lambda: limits == {"CP-1": 16.0, "CP-2": 16.0}, 30)

            # Dear now, cheap from three hours on: CP-1's car waits and CP-2's takes the room.
            prices = [{"start": _at(-1), "price": 0.40}, {"start": _at(3), "price": 0.10}]
            answer = await client.put("/api/sites/depot/prices", json={"prices": prices})
            assert answer.status_code == 200, answer.text
            need = {"energy_wh": 20000, "departure": _at(10), "max_current": 32}
            answer = await client.post("/api/stations/CP-1/connectors/1/charging-needs", json=need)
            assert answer.status_code == 201, answer.text
            await until(lambda: limits == {"CP-1": 0.0, "CP-2": 32.0}, 30)
            state = await planned_site(client)
            plan = state["plan"]
            assert plan["mode"] == "cheapest"
            [planned] = plan["connectors"]
            assert (planned["station"], planned["target"], planned["unmet_wh"]) == ("CP-1", 0.0, 0.0)
            assert max(planned["currents"]) > 0  # it charges later, in the cheap hours
            metrics = (await client.get("/metrics")).text
            assert 'chargeward_site_plans_total{outcome="planned",site="depot"}' in metrics
            assert 'chargeward_site_plan_unmet_watt_hours{site="depot"} 0.0' in metrics

            # The need cleared: the instantaneous allocation again.
            answer = await client.delete("/api/stations/CP-1/connectors/1/charging-needs")
            assert answer.status_code == 204, answer.text
            await until(lambda: limits == {"CP-1": 16.0, "CP-2": 16.0}, 30)

            # A 2.0.1 EV states its need; it must charge before the cheap hours (it leaves in 2 h).
            async with peer_station(url, "EV-3", version="2.0.1") as ev3:
                nursery.start_soon(obey, limits, "EV-3", ev3, profiles)
                await ev3.call(
                    "BootNotification", charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                )
                await ev3.call(
                    "TransactionEvent",
                    event_type="Started",
                    timestamp=_at(0),
                    trigger_reason="CablePluggedIn",
                    seq_no=0,
                    transaction_info={"transaction_id": "tx-ev3"},
                    evse={"id": 1, "connector_id": 1},
                )
                needs = {
                    "requested_energy_transfer": "AC_three_phase",
                    "departure_time": _at(2),
                    "ac_charging_parameters": {
                        "energy_amount": 7000,
                        "ev_min_current": 6,
                        "ev_max_current": 16,
                        "ev_max_voltage": 400,
                    },
                }
                answer = await ev3.call("NotifyEVChargingNeeds", evse_id=1, charging_needs=needs)
                assert answer["status"] == "Processing"  # the site's SetChargingProfile follows
                await until(lambda: limits.get("EV-3", 0.0) > 0, 30)
                state = await planned_site(client)
                [planned] = state["plan"]["connectors"]
                assert planned["station"] == "EV-3" and planned["max_current"] == 16.0
                [need] = state["needs"]  # the EV's own, as the site holds it
                assert (need["station"], need["source"], need["energy_wh"]) == ("EV-3", "ocpp", 7000.0)
                assert planned["target"] == planned["planned"] > 0 and planned["unmet_wh"] == 0.0
                [(_, sent)] = [p for p in profiles if p[0] == "EV-3"][-1:]
                assert sent["evse_id"] == 1 and sent["charging_profile"]["transaction_id"] == "tx-ev3"
                # The needs API shows the EV's need, the one the optimizer plans from.
                answer = await client.get("/api/stations/EV-3/connectors/1/charging-needs")
                assert answer.status_code == 200, answer.text
                shown = answer.json()
                assert (shown["source"], shown["energy_wh"], shown["max_current"]) == ("ocpp", 7000.0, 16.0)
                assert shown["min_current"] == 6.0

            # A 2.0.1 station on no site: nothing will send it a schedule.
            async with peer_station(url, "EV-9", version="2.0.1") as ev9:
                await ev9.call(
                    "BootNotification", charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                )
                answer = await ev9.call("NotifyEVChargingNeeds", evse_id=1, charging_needs=needs)
                assert answer["status"] == "Accepted"
            nursery.cancel_scope.cancel()
