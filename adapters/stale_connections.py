"""At start-up, close in the log the connections that the previous process left open.

Station actors start only when a station connects, so a station that was connected when the server
stopped (a crash, a kill, a power cut) would show ``connected: true`` until it came back, and the
offline alert would never fire for it. Before the OCPP port opens, the composition root folds the
whole log into the live projection and appends ``StationDisconnected`` (reason "server restarted")
for every station whose last state is connected, then waits until the projection has folded those
too: the first reader of ``/api`` and ``/metrics`` sees the truth.
"""

from __future__ import annotations

import logging

from actors.events import new_events
from actors.events.station import StationDisconnected
from core.clock import Clock
from core.projection import ProjectionRunner
from core.store import EventStore
from projections.live import LiveState

logger = logging.getLogger("chargeward")

REASON = "server restarted"


async def close_stale_connections(store: EventStore, live: ProjectionRunner[LiveState], clock: Clock) -> int:
    """Append the missing disconnects (no station can be connected yet); how many stations had one."""
    await live.wait_for(await store.head())
    stale = [
        (view.station_id, view.connection)
        for view in live.state.stations.values()
        if view.connected and view.connection is not None
    ]
    if not stale:
        return 0
    now = clock.wall()
    events = [
        new
        for station_id, conn in stale
        for new in new_events(f"station/{station_id}", [StationDisconnected(conn=conn, reason=REASON)], now)
    ]
    expected = {event.stream: await store.stream_version(event.stream) for event in events}
    await store.append(events, expected=expected)  # one commit, however many stations were left open
    await live.wait_for(await store.head())
    logger.info("marked %d stations disconnected: they were connected when the server stopped", len(stale))
    return len(stale)
