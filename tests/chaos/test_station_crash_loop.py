"""Chaos: under load from 50 stations, one station's actor raises on every Heartbeat.

Only that station fails (its own supervisor gives up: StationFailed, refused with 503); the server
never exits, none of the other 50 stations is disconnected, and every reply any station got (the
crashing one included) is backed by its frames and domain events in the log: nothing acknowledged
is lost. The fault is a station-actor subclass injected through ``open_csms(station_actor=...)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket

from actors.events.station import (
    FrameReceived,
    FrameSent,
    StationFailed,
    TransactionStarted,
    TransactionStopped,
)
from adapters.csms import Csms, open_csms
from tests.integration.conftest import make_config, url_of
from tests.station_faults import crashes_on

STATIONS = 50
ROUNDS = 8  # per station: a transaction with meter values, a heartbeat, each round
CRASHING = "CHAOS-CRASH"
NOW = "2026-11-21T10:00:00Z"


@dataclass
class Acks:
    """The calls each station got a CALLRESULT for, by message id."""

    by_station: dict[str, dict[str, str]] = field(default_factory=dict)  # station -> id -> action
    closed: list[str] = field(default_factory=list)  # healthy stations whose connection was closed


async def call(ws: trio_websocket.WebSocketConnection, unique_id: str, action: str, payload: Any) -> Any:
    await ws.send_message(json.dumps([2, unique_id, action, payload]))
    with trio.fail_after(60):
        while True:
            frame = json.loads(await ws.get_message())
            if frame[1] == unique_id:
                assert frame[0] == 3, frame
                return frame[2]


async def load(csms: Csms, station_id: str, acks: Acks) -> None:
    """One healthy station charging in rounds; every CALLRESULT recorded."""
    got = acks.by_station.setdefault(station_id, {})
    try:
        async with trio_websocket.open_websocket_url(
            f"{url_of(csms)}/{station_id}", subprotocols=["ocpp1.6"]
        ) as ws:
            boot = {"chargePointVendor": "V", "chargePointModel": "M"}
            await call(ws, "boot", "BootNotification", boot)
            got["boot"] = "BootNotification"
            for n in range(ROUNDS):
                start = {"connectorId": 1, "idTag": "TAG-OK", "meterStart": n * 1000, "timestamp": NOW}
                tx = (await call(ws, f"start-{n}", "StartTransaction", start))["transactionId"]
                got[f"start-{n}"] = "StartTransaction"
                sample = {"sampledValue": [{"value": str(n * 1000 + 500), "unit": "Wh"}], "timestamp": NOW}
                meter = {"connectorId": 1, "transactionId": tx, "meterValue": [sample]}
                await call(ws, f"meter-{n}", "MeterValues", meter)
                got[f"meter-{n}"] = "MeterValues"
                await call(ws, f"hb-{n}", "Heartbeat", {})
                got[f"hb-{n}"] = "Heartbeat"
                stop = {"transactionId": tx, "meterStop": n * 1000 + 900, "timestamp": NOW}
                await call(ws, f"stop-{n}", "StopTransaction", stop)
                got[f"stop-{n}"] = "StopTransaction"
    except trio_websocket.ConnectionClosed:
        acks.closed.append(station_id)


async def crash_loop(csms: Csms, acks: Acks) -> list[int]:
    """The faulty station: boot, then Heartbeat, reconnecting after each crash until refused (503)."""
    got = acks.by_station.setdefault(CRASHING, {})
    codes: list[int] = []
    attempt = 0
    with trio.fail_after(120):
        while True:
            attempt += 1
            try:
                async with trio_websocket.open_websocket_url(
                    f"{url_of(csms)}/{CRASHING}", subprotocols=["ocpp1.6"]
                ) as ws:
                    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
                    await call(ws, f"boot-{attempt}", "BootNotification", boot)
                    got[f"boot-{attempt}"] = "BootNotification"
                    await ws.send_message(json.dumps([2, f"hb-{attempt}", "Heartbeat", {}]))
                    await ws.get_message()
                    raise AssertionError("the faulty station's Heartbeat was answered")
            except trio_websocket.ConnectionClosed as closed:
                codes.append(closed.reason.code)
            except trio_websocket.ConnectionRejected as rejected:
                assert rejected.status_code == 503
                return codes


@pytest.mark.slow
async def test_one_crash_looping_station_under_load_fails_alone_and_nothing_acknowledged_is_lost(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, station_backoff=0.1, station_backoff_max=1.0)
    acks = Acks()
    codes: list[int] = []
    async with open_csms(config, station_actor=crashes_on(CRASHING, "Heartbeat")) as csms:

        async def crashing() -> None:
            codes.extend(await crash_loop(csms, acks))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(crashing)
            for i in range(STATIONS):
                nursery.start_soon(load, csms, f"CHAOS-{i:02d}", acks)

        assert codes[-1] == 1013 and len(codes) == config.fleet.station_intensity + 1, codes
        assert acks.closed == [], "healthy stations were disconnected"
        assert csms.fleet.stats.station_failures == 1
        assert set(csms.runtime.stats.escalations) == {"station"}, csms.runtime.stats.escalations
        root = csms.root
        assert root is not None and "ocpp-listener" in root.children()

        for station_id, got in acks.by_station.items():
            records = await csms.store.read_stream(f"station/{station_id}")
            received = {json.loads(r.data["text"])[1] for r in records if r.type == FrameReceived.TYPE}
            answered = {json.loads(r.data["text"])[1] for r in records if r.type == FrameSent.TYPE}
            missing = set(got) - (received & answered)
            assert not missing, f"{station_id}: acknowledged but not in the log: {sorted(missing)}"
            if station_id == CRASHING:
                assert [r.type for r in records].count(StationFailed.TYPE) == 1
                continue
            assert len(got) == 1 + 4 * ROUNDS
            kinds = [r.type for r in records]
            assert kinds.count(TransactionStarted.TYPE) == kinds.count(TransactionStopped.TYPE) == ROUNDS
            assert StationFailed.TYPE not in kinds
