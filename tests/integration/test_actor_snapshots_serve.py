"""A station that reconnects to a restarted server gets actors rebuilt from their snapshots and the
stream's tail, in the state a fold of the whole stream gives."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from actors.snapshots import SNAPSHOT_EVERY
from actors.station_state import StationState
from adapters.csms import open_csms
from core.codec import unpack
from tests.integration.conftest import disconnected, make_config, url_of
from tests.integration.peer import peer_station

NOW = "2026-11-27T05:00:00Z"


async def test_a_reconnecting_station_starts_from_its_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path)
    async with open_csms(config) as csms:
        async with peer_station(url_of(csms), "SNAP-1") as peer:
            await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
            started = await peer.call(
                "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=500, timestamp=NOW
            )
            while await csms.store.stream_version("station/SNAP-1") < SNAPSHOT_EVERY + 10:
                await peer.call("Heartbeat")
        await disconnected(csms, "SNAP-1")
        blob = await csms.store.load_snapshot("actor/station/SNAP-1")  # type: ignore[attr-defined]
        assert blob is not None and unpack(blob)["sequence"] >= SNAPSHOT_EVERY

    with caplog.at_level(logging.DEBUG, logger="chargeward.snapshots"):
        async with open_csms(config) as csms, peer_station(url_of(csms), "SNAP-1") as peer:
            await peer.call("Heartbeat")
            inspected = await csms.station("SNAP-1").inspect()
            cold = StationState()
            cold.apply_all(await csms.store.read_stream("station/SNAP-1"))
            assert inspected is not None
            assert inspected.open_transactions == sorted(cold.transactions) == [started["transaction_id"]]
            assert (inspected.boot_status, inspected.vendor) == (cold.boot_status, cold.vendor)
            connector = await csms.station("SNAP-1").connector(1)
            assert connector.transaction_id == started["transaction_id"]
    assert "actor/station/SNAP-1: restored from the snapshot" in caplog.text
