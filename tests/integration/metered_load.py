"""Stations that send MeterValues without a pause against a real ``chargeward serve``, and what the
log holds of them: the load the PostgreSQL outage, restart and two-node restart tests put on a server.

A message that got a CALLERROR is sent again, as chargers do, and counted once when it is answered.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import trio

from tests.integration.peer import PeerCallFailed, PeerStation, peer_station

T0 = "2026-11-27T06:00:00Z"
READY = b"(docs at /docs)"  # what `serve` prints once its API is up


async def meter(station: PeerStation, value: int) -> None:
    """One MeterValues carrying ``value``, which :func:`metered_values` reads back from the log."""
    await station.call(
        "MeterValues",
        connector_id=1,
        meter_value=[{"timestamp": T0, "sampled_value": [{"value": str(value)}]}],
    )


async def send_until(station: PeerStation, acked: list[int], failures: list[str], stop: trio.Event) -> None:
    """MeterValues 1, 2, 3, ... until ``stop``; a value that failed is sent again (not counted twice)."""
    value = 0
    while not stop.is_set():
        value += 1
        while True:
            try:
                await meter(station, value)
            except PeerCallFailed as error:
                failures.append(str(error))
                assert len(failures) < 100, failures[-3:]  # the server does not recover
                await trio.sleep(0.2)
                continue
            acked.append(value)
            break


def metered_values(records: list[object]) -> list[int]:
    """The values of the MeterValues frames a station's stream recorded, in order."""
    values = []
    for record in records:
        if record.type == "FrameReceived" and record.data.get("action") == "MeterValues":  # type: ignore[attr-defined]
            message = json.loads(record.data["text"])  # type: ignore[attr-defined]
            values.append(int(message[3]["meterValue"][0]["sampledValue"][0]["value"]))
    return values


@asynccontextmanager
async def booted_peers(url: str, stations: Sequence[str]) -> AsyncIterator[dict[str, PeerStation]]:
    """A connected, booted (Accepted) station per id, by id."""
    async with AsyncExitStack() as stack:
        peers = {station: await stack.enter_async_context(peer_station(url, station)) for station in stations}
        for peer in peers.values():
            boot = await peer.call("BootNotification", charge_point_model="M", charge_point_vendor="V")
            assert boot["status"] == "Accepted"
        yield peers
