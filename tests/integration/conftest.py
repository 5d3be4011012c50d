"""A running chargeward on loopback with a fresh SQLite store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.policy import FleetPolicy, IdTag
from adapters.config import Config
from adapters.csms import Csms, open_csms
from adapters.ocpp_server import ServerOptions

ID_TAGS = {
    "TAG-OK": IdTag(),
    "TAG-CHILD": IdTag(parent="FLEET-1"),
    "TAG-OLD": IdTag(expiry=datetime(2020, 1, 1, tzinfo=UTC)),
    "TAG-BLOCKED": IdTag(status="Blocked"),
}


def make_config(data_dir: Path, **fleet: object) -> Config:
    return Config(
        data_dir=data_dir,
        server=ServerOptions(host="127.0.0.1", port=0, ping_interval=30),
        fleet=FleetPolicy(id_tags=ID_TAGS, heartbeat_interval=120, **fleet),  # type: ignore[arg-type]
    )


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[Csms]:
    async with open_csms(make_config(tmp_path)) as running:
        yield running


def url_of(csms: Csms) -> str:
    return f"ws://127.0.0.1:{csms.ocpp_port}/ocpp"


async def live(csms: Csms) -> Any:
    """The live state with everything committed so far folded in."""
    await csms.live.wait_for(await csms.store.head())
    return csms.live.state


async def disconnected(csms: Csms, station_id: str) -> Any:
    """The live state once the station's disconnect (which the server learns asynchronously) is logged."""
    with trio.fail_after(10):
        state = await live(csms)
        while station_id not in state.stations or state.stations[station_id].connected:
            await csms.live.wait_for(csms.live.position + 1)
    return state
