"""Apparent power (VA) is kept as ``power_va``, never as watts (issue 10, defect 10).

OCPP 1.6 allows Power.Active.Import in VA; chargeward used to store such a sample as the connector's
``power_w``, so the API, the fleet's power metric and site load management read volt-amperes as
watts. A real station (the ``ocpp`` package's ChargePoint) sends both kinds and a reactive sample.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from actors.connector_view import ConnectorView, fold_modbus_sample
from actors.events.modbus import ModbusReading
from tests.api.conftest import Api
from tests.api.conftest import api as api  # the fixture
from tests.integration.conftest import url_of
from tests.integration.peer import peer_station

T0 = "2026-11-21T10:00:00Z"


def values(at: str, *sampled: tuple[str, str, str]) -> list[dict[str, object]]:
    return [
        {
            "timestamp": at,
            "sampledValue": [{"value": v, "measurand": m, "unit": u} for v, m, u in sampled],
        }
    ]


async def test_a_station_reporting_va_shows_it_as_apparent_power(api: Api) -> None:
    async with peer_station(url_of(api.csms), "VA-1") as peer:
        started = await peer.call(
            "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=T0
        )
        tx = started["transaction_id"]
        watts = values("2026-11-21T10:01:00Z", ("7.2", "Power.Active.Import", "kW"))
        await peer.call("MeterValues", connector_id=1, transaction_id=tx, meter_value=watts)
        apparent = values(
            "2026-11-21T10:02:00Z",
            ("7.5", "Power.Active.Import", "kVA"),
            ("1.2", "Power.Reactive.Import", "kvar"),
        )
        await peer.call("MeterValues", connector_id=1, transaction_id=tx, meter_value=apparent)
        await api.csms.live.wait_for(await api.csms.store.head())
        station = (await api.client.get("/api/stations/VA-1")).json()
        [connector] = [c for c in station["connectors"] if c["connector"] == 1]
        assert (connector["power_w"], connector["power_va"]) == (7200.0, 7500.0)
        actor = await api.csms.station("VA-1").connector(1)
        assert (actor.power_w, actor.power_va) == (7200.0, 7500.0), "the connector actor agrees"
        metrics = (await api.client.get("/metrics")).text
        power = re.search(r"^chargeward_power_watts (\S+)$", metrics, re.M)
        assert power is not None and float(power.group(1)) == 7200.0, "the fleet's power is in watts"
    schema = (await api.client.get("/openapi.json")).json()["components"]["schemas"]["Connector"]
    assert "power_va" in schema["properties"]


def test_a_modbus_point_in_va_or_var_is_not_watts() -> None:
    view = ConnectorView(1)
    for unit, value in [("W", 3000.0), ("VA", 3100.0), ("var", 400.0)]:
        sample = {
            "name": "p",
            "value": value,
            "unit": unit,
            "measurand": "Power.Active.Import",
            "phase": None,
        }
        reading = ModbusReading(latency_s=0.01, samples=[sample], raw=[])
        view = fold_modbus_sample(view, reading, datetime(2026, 11, 21, tzinfo=UTC))
    assert (view.power_w, view.power_va) == (3000.0, 3100.0)
