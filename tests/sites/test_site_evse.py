"""A site whose charger is a Modbus EVSE controller: the site actor's decisions reach it as current
setpoints, written and read back, against pymodbus's own server; the controller's vehicle state
holds the connector at the minimum while no vehicle is there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import trio
from pymodbus.client import ModbusTcpClient

from actors.events.modbus import EvseControlMismatched, EvseControlVerified
from actors.events.site import SiteLimitSet
from actors.site import SetSiteLimit
from adapters.config import load_config
from adapters.csms import open_csms
from tests.modbus_actors.conftest import EvsePeer, listening, until

CONFIG = """
[[modbus.devices]]
id = "wb"
transport = "tcp"
host = "127.0.0.1"
port = {port}
unit = 1
profile = "simpleevse_wb"
interval = 0.5
station = "WB-1"
connector = 1

[sites.garage]
max_current = 20
stations = ["WB-1"]
round_interval = 0.5
debounce = 0.05
min_interval = 0

[sites.garage.connectors."WB-1:1"]
max_current = 12
"""


@pytest.fixture
def evse_peer() -> Iterator[EvsePeer]:
    """tests/modbus_actors/evse_peer.py in a subprocess, killed after the test."""
    peer = EvsePeer("socket")
    peer.start()
    yield peer
    peer.stop()


async def test_a_site_drives_an_evse_controller_by_its_setpoint(tmp_path: Path, evse_peer: EvsePeer) -> None:
    await listening(evse_peer.port)
    config_file = tmp_path / "chargeward.toml"
    config_file.write_text(CONFIG.format(port=evse_peer.port))
    config = load_config(config_file)
    config = replace(config, data_dir=tmp_path, server=replace(config.server, port=0))
    async with open_csms(config) as csms:
        stats = csms.site_stats["garage"]

        async def verdicts() -> list[tuple[str, float]]:
            found = []
            for record in await csms.store.read_stream("evse/wb"):
                if record.type in (EvseControlVerified.TYPE, EvseControlMismatched.TYPE):
                    found.append((record.type, record.data.get("value", record.data.get("actual"))))
            return found

        # No meter, no transaction known: the controller's connector counts as wanting power and
        # gets its own cap, 12 A (the site's 20 A would allow more).
        await until(lambda: stats.sends["accepted"] >= 1, 30)
        assert (await verdicts())[0] == ("EvseControlVerified", 12.0)
        limit = SiteLimitSet(source="site_operator", unit="A", value=8.0)
        await csms.sites["garage"].ask(lambda reply: SetSiteLimit(limit, reply), timeout=10)
        await until(lambda: stats.sends["accepted"] >= 2, 30)
        assert (await verdicts())[-1] == ("EvseControlVerified", 8.0)
        assert stats.in_force == {next(iter(stats.in_force)): 8.0}

        # The controller reads no vehicle (IEC 61851 state A): held at the site's minimum, 6 A; a car
        # charging (state C): its share again.
        for state, amps in ((1, 6.0), (3, 8.0)):
            sent = stats.sends["accepted"]
            await trio.to_thread.run_sync(_write_vehicle_state, evse_peer.port, state)
            await until(lambda sent=sent: stats.sends["accepted"] > sent, 30)  # type: ignore[misc]
            assert (await verdicts())[-1] == ("EvseControlVerified", amps)


def _write_vehicle_state(port: int, state: int) -> None:
    """Set the peer's vehicle-state register (1002) as a wallbox would on a plug event."""
    client = ModbusTcpClient("127.0.0.1", port=port)
    try:
        assert client.connect()
        assert not client.write_register(1002, state, device_id=1).isError()
    finally:
        client.close()
