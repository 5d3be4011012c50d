"""Stations the log shows connected while no live node serves them: close their connection in the log.

A node that dies (kill -9, power cut), stops without recording its stations' disconnects, or is paused
until its leases run out leaves its stations ``connected`` in the shared log, so every other node's
live projection, API and metrics would show them connected until they came back. Each node looks, every
heartbeat, at the stations its live projection shows connected and it does not serve itself; those
whose lease no live node holds unexpired (:meth:`ClusterTables.orphans`) it closes:

1. it takes their leases like a connecting station would (a new epoch, so a node still believing it
   holds one is fenced off, and a commit of the old holder in flight has either landed or will fail);
2. it waits until its live projection has folded the log up to the head, and appends
   ``StationDisconnected`` for each station still connected there (nobody else can append to these
   streams now, so the projection is the stream's last word);
3. it releases the leases. A station reconnecting meanwhile waits at most that long for its lease.

Several nodes may find the same orphan: the lease serialises them, and the second sees it closed.

A holder that looks gone (its listening session is not in ``pg_stat_activity``) may only be
reconnecting that session (a network blip, its connection terminated): its station counts as an
orphan only when the holder looked gone in two rounds running (``suspects`` carries the stations
from one round to the next), a heartbeat apart, longer than a live node takes to reconnect.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from actors.events import new_events
from actors.events.station import StationDisconnected
from adapters.cluster.tables import DB_ERRORS
from core.clock import Clock
from core.projection import ProjectionRunner
from projections.live import LiveState

if TYPE_CHECKING:
    from adapters.cluster.node import ClusterNode

__all__ = ["close_orphans"]

log = logging.getLogger("chargeward.cluster")


def _reason(holder: str | None, alive: bool) -> str:
    if holder is None:
        return "no node serves it"
    if alive:
        return f"node {holder} let its lease expire"
    return f"node {holder} is gone"


async def close_orphans(
    node: ClusterNode, live: ProjectionRunner[LiveState], clock: Clock, suspects: set[str]
) -> int:
    """One round (see the module docstring); how many stations were marked disconnected.

    ``suspects``: the stations whose holder looked gone in the previous round; updated for the next.
    """
    # Up to date first (a node that just started may still be folding the log), so the leases taken
    # below are held only for the moment it takes to fold what came in since.
    await live.wait_for(await node.store.head())
    connected = [
        station
        for station, view in live.state.stations.items()
        if view.connected and station not in node.held
    ]
    if not connected:
        return 0
    found = await trio.to_thread.run_sync(node.tables.orphans, connected)
    gone = {station for station, holder, alive in found if holder is not None and not alive}
    orphans = [orphan for orphan in found if orphan[0] not in gone or orphan[0] in suspects]
    suspects.clear()
    suspects.update(gone)
    if not orphans:
        return 0
    locks = []
    taken: dict[str, tuple[int, str]] = {}
    try:
        for station, holder, alive in orphans:
            lock = node.station_lock(station)
            if lock.locked() or node.connected(station) or station in node.held:
                continue  # a connection to this node is being opened: it settles the station
            lock.acquire_nowait()
            locks.append(lock)
            got = await trio.to_thread.run_sync(node.tables.acquire, station, node.node, None)
            if got.epoch is not None:
                taken[station] = (got.epoch, _reason(holder, alive))
                node.held[station] = got.epoch
                node.store.writer.forget(f"station/{station}")
        if not taken:
            return 0
        await live.wait_for(await node.store.head())
        now = clock.wall()
        events = []
        for station, (_, reason) in taken.items():
            view = live.state.stations.get(station)
            if view is not None and view.connected and view.connection is not None:
                disconnected = StationDisconnected(conn=view.connection, reason=reason)
                events += new_events(f"station/{station}", [disconnected], now)
        if events:
            await node.store.append(events)
            node.stats.orphans_closed += len(events)
            log.info(
                "node %s marked %d stations disconnected: %s",
                node.node,
                len(events),
                ", ".join(event.stream for event in events[:10]),
            )
        return len(events)
    finally:
        with trio.CancelScope(shield=True):
            for station, (epoch, _) in taken.items():
                if node.held.get(station) == epoch:
                    del node.held[station]
            releases = [(station, epoch) for station, (epoch, _) in taken.items()]
            try:
                with trio.move_on_after(10):
                    if releases:
                        await trio.to_thread.run_sync(node.tables.release_all, releases, node.node)
            except DB_ERRORS as error:  # they expire instead
                log.warning("node %s: cannot release the leases it closed: %s", node.node, error)
            for lock in locks:
                lock.release()
