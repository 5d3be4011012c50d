"""One node of several sharing a PostgreSQL store: station leases, heartbeat, calls between nodes.

``serve --node NAME`` (``[node] name``) runs this beside the fleet (see ``adapters.csms``):

- **Leases.** A station is served by the node holding its lease (``adapters.cluster.tables``). The
  OCPP server takes it when the station connects (:meth:`ClusterNode.open`): at once if nobody holds
  it, the holder released it, the holder's process is gone (its PostgreSQL connection closed, as
  after a kill -9) or the lease expired (a paused or cut-off holder); otherwise the connection waits
  up to one lease period and is then closed with 1013 (try again later). A new epoch means whatever
  this node knew of the station is stale: its actors are stopped and it rebuilds from the log, and
  the writer forgets the stream's cached head. The last connection's end stops the actors (after
  they recorded the disconnect) and releases the lease.
- **Fencing.** The node is the store's ``Fence``: appends to a station stream whose lease it does not
  hold are refused before they queue, and each commit checks in its transaction that the leases it
  needs are still held under the same epochs (``adapters.stores.postgres_recorder``).
- **Heartbeat.** Every third of the lease period the node renews its leases and its row in
  ``chargeward_nodes``. A lease found taken by another node is dropped: the station's connection is
  closed (1012) and its actors stopped; the station reconnects to whichever node it reaches.
- **Orphans.** With the same period the node marks disconnected, in the log, the stations that no live
  node serves any more (``adapters.cluster.orphans``), so every node's view drops them.
- **Calls.** A command for a station another node holds goes through ``chargeward_calls``: a row,
  a NOTIFY on the owner's channel, which runs it and writes the reply, and a NOTIFY back. The waiting
  node also looks at the row every ``_REPLY_CHECK`` seconds, in case a notification was lost; the
  owner, after its listening connection was lost and made again, serves the calls addressed to it
  meanwhile (their NOTIFY went nowhere), unless their caller has given up already.

Liveness is the node's listening connection: ``chargeward_nodes`` records its backend (pid and
start), which ``pg_stat_activity`` lists while the process lives (for a node of another PostgreSQL
user, without its start: see ``adapters.cluster.tables``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import trio
from psycopg.sql import SQL, Identifier

from actors.commands import (
    Command,
    CommandError,
    CommandNotRecorded,
    CommandRejected,
    CommandSuperseded,
    CommandTimedOut,
    InvalidCommand,
    OutboxFull,
    StationOffline,
    UnknownStation,
)
from actors.fleet import Fleet
from adapters.cluster.orphans import close_orphans
from adapters.cluster.tables import DB_ERRORS, ClusterTables, NodeNameTaken, NodeRow
from adapters.stores.postgres import PostgresTarget
from adapters.stores.recorded import RecordedStore
from adapters.stores.recording import stream_uuid
from core.actor import ActorBusy, ActorStopped
from core.clock import Clock
from core.codec import pack, unpack
from core.projection import ProjectionRunner
from core.store import NotOwner, StoreError
from projections.live import LiveState

__all__ = ["ClusterNode", "NodeStats"]

log = logging.getLogger("chargeward.cluster")

_STATION = "station/"
_REPLY_CHECK = 2.0  # seconds between looks at a forwarded call's row while its reply is awaited
_REGISTER_WAIT = 5.0  # seconds a restarted node waits for its killed predecessor's connection to go
_BACKOFF_MAX = 5.0
_CALL_MAX_AGE = 300.0  # seconds: older unanswered calls are not looked for after a reconnect

_ERRORS: dict[str, type[CommandError]] = {
    cls.__name__: cls
    for cls in (
        UnknownStation,
        StationOffline,
        InvalidCommand,
        OutboxFull,
        CommandSuperseded,
        CommandNotRecorded,
        CommandTimedOut,
    )
}


@dataclass
class NodeStats:
    """Counters for /metrics."""

    takeovers: int = 0
    """Leases taken under a new epoch (a station's first connection to this node since it held it)."""
    lost: int = 0
    """Leases found taken by another node at a heartbeat."""
    forwarded: int = 0
    """Commands sent to the node owning their station."""
    served: int = 0
    """Commands other nodes sent here."""
    heartbeat_failures: int = 0
    orphans_closed: int = 0
    """Stations marked disconnected here because no live node served them (``adapters.cluster.orphans``)."""


def channel(schema: str, node: str) -> str:
    """The LISTEN channel of ``node`` (a PostgreSQL identifier however the node is named)."""
    return "cw_" + hashlib.sha256(f"{schema}/{node}".encode()).hexdigest()[:32]


class ClusterNode:
    """See the module docstring. Run :meth:`run` in a nursery; it installs itself as the store's fence."""

    def __init__(
        self,
        name: str,
        *,
        store: RecordedStore,
        target: PostgresTarget,
        tables: ClusterTables,
        fleet: Fleet,
        lease_seconds: float,
        live: ProjectionRunner[LiveState] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.node = name
        self.store = store
        self.target = target
        self.tables = tables
        self.fleet = fleet
        self.lease_seconds = lease_seconds
        self.live = live
        """The live projection: with it (and ``clock``) the node closes orphaned stations' connections."""
        self.clock = clock
        self.held: dict[str, int] = {}
        """Station id -> epoch of each lease this node holds."""
        self.stats = NodeStats()
        self._connections: dict[str, int] = {}
        self._locks: dict[str, trio.Lock] = {}
        self._replies: dict[int, trio.Event] = {}
        self._serving: set[int] = set()
        self._channel = channel(target.schema, name)
        self._nursery: trio.Nursery | None = None

    # -- the store's fence ------------------------------------------------------------------------

    def check(self, streams: Iterable[str]) -> None:
        for stream in streams:
            if stream.startswith(_STATION) and stream[len(_STATION) :] not in self.held:
                raise NotOwner(f"node {self.node!r} does not hold the lease of {stream!r}; nothing appended")

    def claims(self, streams: Iterable[str]) -> list[tuple[UUID, int]]:
        claimed = []
        for stream in streams:
            if stream.startswith(_STATION):
                epoch = self.held.get(stream[len(_STATION) :])
                if epoch is None:
                    raise NotOwner(
                        f"node {self.node!r} does not hold the lease of {stream!r}; nothing appended"
                    )
                claimed.append((stream_uuid(stream), epoch))
        return claimed

    # -- connections (the OCPP server's ownership hooks) -----------------------------------------

    def station_lock(self, station: str) -> trio.Lock:
        """Held while the station's lease changes hands on this node."""
        return self._locks.setdefault(station, trio.Lock())

    def connected(self, station: str) -> bool:
        """Whether the station has a connection to this node."""
        return self._connections.get(station, 0) > 0

    def owns(self, station: str) -> bool:
        return station in self.held

    async def open(self, station: str) -> str | None:
        """Take the station's lease for a new connection; None when taken, else why not."""
        async with self.station_lock(station):
            count = self._connections.get(station, 0)
            if count == 0 or station not in self.held:
                deadline = trio.current_time() + self.lease_seconds + 2.0
                while True:
                    try:
                        got = await trio.to_thread.run_sync(
                            self.tables.acquire, station, self.node, self.held.get(station)
                        )
                    except DB_ERRORS as error:
                        log.warning("node %s: cannot take the lease of %s: %s", self.node, station, error)
                        return "the event store cannot be reached; try again later"
                    if got.epoch is not None:
                        break
                    if trio.current_time() >= deadline:
                        return f"station {station} is served by node {got.holder}; try again later"
                    await trio.sleep(min(0.5, max(got.remaining, 0.05)))
                if got.fresh:
                    self.held.pop(station, None)
                    await self.fleet.retire(station)  # its actors' state predates the other node's events
                    self.store.writer.forget(f"{_STATION}{station}")
                    if got.epoch > 1:
                        self.stats.takeovers += 1
                    log.info("node %s took the lease of station %s (epoch %d)", self.node, station, got.epoch)
                self.held[station] = got.epoch
            self._connections[station] = count + 1
            return None

    async def close(self, station: str) -> None:
        """A connection ended; the last one stops the station's actors and releases the lease."""
        async with self.station_lock(station):
            count = self._connections.get(station, 0) - 1
            if count > 0:
                self._connections[station] = count
                return
            self._connections.pop(station, None)
            epoch = self.held.get(station)
            if epoch is None:
                return  # lost to another node meanwhile
            await self.fleet.settle(station)  # the disconnect is recorded while the lease is still held
            await self.fleet.retire(station)
            self.held.pop(station, None)
            try:
                await trio.to_thread.run_sync(self.tables.release, station, self.node, epoch)
            except DB_ERRORS as error:  # it expires instead
                log.warning("node %s: cannot release station %s: %s", self.node, station, error)

    async def _lost(self, station: str, epoch: int) -> None:
        async with self.station_lock(station):
            if self.held.get(station) != epoch:
                return
            self.held.pop(station)
            self.stats.lost += 1
            log.warning("node %s lost the lease of station %s to another node", self.node, station)
            await self.fleet.retire(station, reason="this node lost the station to another node; reconnect")

    # -- running ---------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[ClusterNode] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(self.tables.create)
        conn = await self._register()
        self.store.log.fence = self
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._heartbeat)
                if self.live is not None and self.clock is not None:
                    nursery.start_soon(self._close_orphans, self.live, self.clock)
                task_status.started(self)
                await self._listen(conn)
        finally:
            # The fence stays: with no lease held, no station append of this node gets through
            # (a station actor still finishing its last message is refused, the next owner records
            # the disconnect), while the leases are released for the other nodes.
            self.held.clear()
            with trio.CancelScope(shield=True), trio.move_on_after(10):
                try:
                    await trio.to_thread.run_sync(self.tables.stop, self.node)
                except DB_ERRORS as error:
                    log.warning("node %s: cannot release its leases (they expire): %s", self.node, error)

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(**self.target.connect_kwargs(), autocommit=True)
        try:
            conn.execute(SQL("LISTEN {}").format(Identifier(self._channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    async def _register(self) -> psycopg.Connection[Any]:
        conn = await trio.to_thread.run_sync(self._connect)
        deadline = trio.current_time() + _REGISTER_WAIT
        while True:
            try:
                await trio.to_thread.run_sync(self.tables.register, conn, self.node)
                return conn
            except NodeNameTaken:
                if trio.current_time() >= deadline:
                    conn.close()
                    raise
                await trio.sleep(0.5)  # a killed run's connection may take a moment to go
            except BaseException:
                conn.close()
                raise

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(self.lease_seconds / 3)
            before = dict(self.held)
            try:
                still = await trio.to_thread.run_sync(self.tables.renew, self.node, list(before))
            except DB_ERRORS as error:
                self.stats.heartbeat_failures += 1
                log.warning("node %s: heartbeat failed: %s", self.node, str(error).strip().splitlines()[0])
                continue
            for station, epoch in before.items():
                if still.get(station) != epoch and self.held.get(station) == epoch:
                    assert self._nursery is not None
                    self._nursery.start_soon(self._lost, station, epoch)

    async def _close_orphans(self, live: ProjectionRunner[LiveState], clock: Clock) -> None:
        suspects: set[str] = set()
        while True:
            await trio.sleep(self.lease_seconds / 3)
            try:
                await close_orphans(self, live, clock, suspects)
            except (*DB_ERRORS, StoreError) as error:
                log.warning(
                    "node %s: cannot close orphaned stations: %s",
                    self.node,
                    str(error).strip().splitlines()[0],
                )

    async def _listen(self, conn: psycopg.Connection[Any]) -> None:
        backoff = 0.1
        while True:
            try:
                await self._hear(conn)
            except DB_ERRORS as error:
                log.warning("node %s: listening connection lost (%s); reconnecting", self.node, error)
            finally:
                conn.close()
            while True:
                await trio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                try:
                    conn = await trio.to_thread.run_sync(self._connect)
                    await trio.to_thread.run_sync(self.tables.reattach, conn, self.node)
                except DB_ERRORS as error:
                    log.warning(
                        "node %s: cannot reconnect (%s)", self.node, str(error).strip().splitlines()[0]
                    )
                    continue
                backoff = 0.1
                for event in self._replies.values():
                    event.set()  # look at the rows: a reply may have come while nobody listened
                await self._resume_calls()  # and a call may have come
                break

    async def _hear(self, conn: psycopg.Connection[Any]) -> None:
        pgconn = conn.pgconn
        while True:
            await trio.lowlevel.wait_readable(pgconn.socket)
            pgconn.consume_input()
            if pgconn.status != psycopg.pq.ConnStatus.OK:
                raise psycopg.OperationalError("the listening connection closed")
            while (notify := pgconn.notifies()) is not None:
                kind, _, number = notify.extra.decode().partition(":")
                if not number.isdigit():
                    continue
                if kind == "c":
                    assert self._nursery is not None
                    self._nursery.start_soon(self._serve_call, int(number))
                elif kind == "r" and (event := self._replies.get(int(number))) is not None:
                    event.set()

    # -- calls between nodes ---------------------------------------------------------------------

    async def call(self, station: str, command: Command, wait: float) -> dict[str, Any]:
        """Run ``command`` on the node holding ``station``; its reply, or its error raised here.

        ``CommandNotRecorded`` (503 over the API) while PostgreSQL cannot be reached."""
        try:
            owner = await trio.to_thread.run_sync(self.tables.owner, station)
            if owner is None or owner == self.node:
                if await self.store.stream_version(f"{_STATION}{station}") == 0:
                    raise UnknownStation(f"no station {station!r} has ever connected")
                raise StationOffline(f"station {station} is not connected to any node")
            body = pack({"action": command.action, "payload": dict(command.payload), "timeout": wait})
            call_id = await trio.to_thread.run_sync(
                self.tables.send_call, self.node, owner, station, body, channel(self.target.schema, owner)
            )
        except (*DB_ERRORS, StoreError) as error:
            raise CommandNotRecorded(
                f"the event store cannot be reached to find the station's node: {error}"
            ) from error
        self.stats.forwarded += 1
        event = self._replies[call_id] = trio.Event()
        try:
            with trio.move_on_after(wait + _REPLY_CHECK + 1.0):
                while True:
                    with trio.move_on_after(_REPLY_CHECK):
                        await event.wait()
                    try:
                        reply = await trio.to_thread.run_sync(self.tables.reply_of, call_id)
                    except DB_ERRORS:
                        reply = None  # the store is out of reach for now: look again
                    if reply is not None:
                        return _result(unpack(reply))
                    if event.is_set():
                        event = self._replies[call_id] = trio.Event()
            raise CommandTimedOut(f"node {owner}, which holds station {station}, did not answer in time")
        finally:
            del self._replies[call_id]
            with trio.CancelScope(shield=True):
                try:
                    await trio.to_thread.run_sync(self.tables.forget_call, call_id)
                except DB_ERRORS:
                    pass  # a row left behind costs a few bytes; the next clean-up is the operator's

    async def _resume_calls(self) -> None:
        """Serve the calls made to this node while it was not listening (their NOTIFY was lost)."""
        try:
            pending = await trio.to_thread.run_sync(self.tables.pending_calls, self.node, _CALL_MAX_AGE)
        except DB_ERRORS as error:
            log.warning("node %s: cannot look for calls it missed: %s", self.node, error)
            return
        assert self._nursery is not None
        for call_id in pending:
            self._nursery.start_soon(self._serve_call, call_id)

    async def _serve_call(self, call_id: int) -> None:
        if call_id in self._serving:
            return  # heard twice (a NOTIFY, and the look after a reconnect)
        self._serving.add(call_id)
        try:
            taken = await trio.to_thread.run_sync(self.tables.take_call, call_id, self.node)
            if taken is None:
                return
            from_node, station, body, age = taken
            request = unpack(body)
            if age > request["timeout"]:
                return  # its caller has given up: a late command is worse than none
            self.stats.served += 1
            reply = await self._run_call(
                station, Command(request["action"], request["payload"]), request["timeout"]
            )
            await trio.to_thread.run_sync(
                self.tables.answer_call, call_id, pack(reply), channel(self.target.schema, from_node)
            )
        except DB_ERRORS as error:
            log.warning("node %s: call %d from another node failed: %s", self.node, call_id, error)
        finally:
            self._serving.discard(call_id)

    async def _run_call(self, station: str, command: Command, wait: float) -> dict[str, Any]:
        try:
            if station not in self.held:
                raise StationOffline(f"station {station} is no longer served by node {self.node}")
            return {"ok": await self.fleet.call(station, command, timeout=wait, local=True)}
        except CommandRejected as error:
            return {
                "error": "CommandRejected",
                "code": error.code,
                "description": error.description,
                "details": error.details,
            }
        except CommandError as error:
            return {"error": type(error).__name__, "message": str(error)}
        except ActorStopped as error:
            return {"error": "StationOffline", "message": str(error)}
        except ActorBusy as error:
            return {"error": "OutboxFull", "message": str(error)}
        except trio.TooSlowError:
            return {"error": "CommandTimedOut", "message": f"station {station} did not answer in time"}

    async def nodes(self) -> list[NodeRow]:
        return await trio.to_thread.run_sync(self.tables.nodes)


def _result(reply: dict[str, Any]) -> dict[str, Any]:
    if "ok" in reply:
        return dict(reply["ok"])
    kind = reply.get("error")
    if kind == "CommandRejected":
        raise CommandRejected(reply["code"], reply["description"], reply.get("details"))
    raise _ERRORS.get(str(kind), CommandNotRecorded)(reply.get("message", f"the owning node failed: {kind}"))
