"""A ``[vendors."<name>"] call_timeout`` applies from the BootNotification that names the vendor.

Two ways the key was ignored: the station's session kept the timeout it had when the connection
opened (before the boot named the vendor), and the fleet gave up waiting for a command after the
station's own (or default) policy's timeout, whatever its vendor allowed. The station here is a raw
WebSocket client that takes its time to answer, as a slow vendor's charger does.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket

from actors.commands import Command
from adapters.config import load_config
from adapters.csms import open_csms
from tests.integration.conftest import url_of

ANSWER_AFTER = 6.5  # beyond the default's 0.5 s and the fleet's 5 s margin, within the vendor's 10 s


@pytest.mark.slow
async def test_a_slow_vendors_station_gets_its_call_timeout(tmp_path: Path) -> None:
    file = tmp_path / "chargeward.toml"
    file.write_text('[fleet]\ncall_timeout = 0.5\n[vendors."SlowVendor"]\ncall_timeout = 10\n')
    config = load_config(file)
    config = replace(config, data_dir=tmp_path, server=replace(config.server, port=0))
    boot = {"chargePointVendor": "SlowVendor", "chargePointModel": "M"}
    async with (
        open_csms(config) as csms,
        trio_websocket.open_websocket_url(f"{url_of(csms)}/VEN-1", subprotocols=["ocpp1.6"]) as ws,
        trio.open_nursery() as nursery,
    ):
        await ws.send_message(json.dumps([2, "b1", "BootNotification", boot]))
        assert json.loads(await ws.get_message())[2]["status"] == "Accepted"
        outcome: list[Any] = []
        done = trio.Event()

        async def command() -> None:
            try:
                outcome.append(await csms.station("VEN-1").call(Command("ClearCache", {})))
            except Exception as error:
                outcome.append(error)
            done.set()

        nursery.start_soon(command)
        with trio.fail_after(20):
            message_type, unique_id, action, _ = json.loads(await ws.get_message())
        assert (message_type, action) == (2, "ClearCache")
        await trio.sleep(ANSWER_AFTER)
        await ws.send_message(json.dumps([3, unique_id, {"status": "Accepted"}]))
        with trio.fail_after(20):
            await done.wait()
    assert outcome == [{"status": "Accepted"}]
