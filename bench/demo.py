"""``chargeward serve --demo N``: N simulated stations charging against the server it runs in.

So a newcomer sees live data at once: each station boots, reports its connectors, then cycles
through charging sessions (authorize, start, MeterValues every few seconds, stop, a pause) for as
long as the server runs. The stations are the bench's simulated ones over real WebSockets on
loopback; their id tags are in the demo policy, so their sessions are Accepted.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from bench.sim_station import Recorder, SimStation, StationLink
from bench.ws_transport import TransportClosed, WsTransport

logger = logging.getLogger("chargeward.demo")

METER_INTERVAL = 5.0  # seconds between MeterValues while charging
SESSION = (60.0, 180.0)  # seconds a session lasts, uniformly drawn
PAUSE = (10.0, 40.0)  # seconds between sessions


def demo_station_ids(count: int) -> list[str]:
    return [f"DEMO-{n:03d}" for n in range(1, count + 1)]


def demo_id_tags(count: int) -> list[str]:
    """The id tags the demo stations present (the demo accepts them)."""
    return [SimStation(station_id, 2, 0).authorize()["idTag"] for station_id in demo_station_ids(count)]


async def _station(url: str, station_id: str, seed: int) -> None:
    station = SimStation(station_id, connectors=2, seed=seed)
    recorder = Recorder()
    while True:
        try:
            transport = await WsTransport.connect(f"{url}/{station_id}", "ocpp1.6", within=10)
        except (OSError, TransportClosed, trio.TooSlowError) as error:
            logger.info("demo %s: cannot connect (%s); retrying", station_id, error)
            await trio.sleep(5)
            continue
        link = StationLink(station, transport, timeout=30)
        try:
            await _lifecycle(link, station, recorder)
        except TransportClosed:
            logger.info("demo %s: connection closed; reconnecting", station_id)
        finally:
            await transport.aclose()


async def _lifecycle(link: StationLink, station: SimStation, recorder: Recorder) -> None:
    now = trio.current_time()
    if not await link.boot(now, recorder, retry_cap=30, deadline=now + 3600):
        return
    for connector in range(0, station.connectors + 1):
        await link.call(
            "StatusNotification", station.status_notification(connector, "Available"), now, recorder
        )
    pause = station.rng.uniform(0.0, 5.0)  # the first session starts soon: the demo is for looking at
    while True:
        await link.idle_until(trio.current_time() + pause, recorder)
        pause = station.rng.uniform(*PAUSE)
        if not await link.start_charging(recorder):
            continue
        until = trio.current_time() + station.rng.uniform(*SESSION)
        while trio.current_time() < until:
            await link.idle_until(trio.current_time() + METER_INTERVAL, recorder)
            now = trio.current_time()
            await link.call("MeterValues", station.meter_values(now), now, recorder)
        await link.stop_charging(recorder)


async def run_demo(url: str, count: int, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Run ``count`` demo stations against ``url`` (``ws://host:port/ocpp``) until cancelled."""
    async with trio.open_nursery() as nursery:
        for seed, station_id in enumerate(demo_station_ids(count)):
            nursery.start_soon(_station, url, station_id, seed)
        task_status.started()
