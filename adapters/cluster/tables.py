"""The tables several nodes of one PostgreSQL store coordinate through, and their statements.

In the store's schema, beside the log:

- ``chargeward_nodes``: one row per node name: its listening connection's backend (pid and start
  time, so another node can tell from ``pg_stat_activity`` that the process is gone), when it
  started, its last heartbeat, and when it stopped cleanly (NULL while it runs);
- ``chargeward_leases``: one row per station that ever connected to a node: the node holding it (NULL
  once released), the epoch (raised by every change of owner, never reused) and the expiry (server
  time; renewed by the holder's heartbeat). The commit of a station's events checks in its own
  transaction that its node still holds the lease under the same epoch
  (``adapters.stores.postgres_recorder``): a node that lost it cannot append;
- ``chargeward_calls``: commands sent through one node's API to a station another node holds, with
  the reply once the owner wrote it (``adapters.cluster.calls``).

Every method blocks (psycopg); callers run them in a worker thread. Times are the server's
(``now()``), so nodes with skewed clocks agree on expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier, Literal

from adapters.stores.postgres_recorder import LEASES_TABLE
from adapters.stores.recording import stream_uuid
from core.store import StoreError

__all__ = ["DB_ERRORS", "Acquired", "ClusterTables", "Held", "NodeNameTaken", "NodeRow"]

DB_ERRORS = (psycopg.Error, PersistenceError)
"""What a statement raises when PostgreSQL cannot be reached or refuses it: psycopg's errors on the
nodes' own connections, the library's (which wraps psycopg's) on the store's pool."""

_CREATE = (
    "CREATE TABLE IF NOT EXISTS {schema}.chargeward_nodes (node text PRIMARY KEY, pid integer, "
    "backend_start timestamptz, started timestamptz NOT NULL, heartbeat timestamptz NOT NULL, "
    "stopped timestamptz)",
    "CREATE TABLE IF NOT EXISTS {schema}.{leases} (station text PRIMARY KEY, "
    "originator uuid NOT NULL UNIQUE, node text, epoch bigint NOT NULL, taken timestamptz NOT NULL, "
    "expires timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS chargeward_leases_by_node ON {schema}.{leases} (node)",
    "CREATE TABLE IF NOT EXISTS {schema}.chargeward_calls (id bigserial PRIMARY KEY, "
    "from_node text NOT NULL, to_node text NOT NULL, station text NOT NULL, body bytea NOT NULL, "
    "reply bytea, created timestamptz NOT NULL DEFAULT now())",
)

# A node is alive while its listening connection is: a killed process's connection closes at once,
# a paused one's stays open (and its leases run out instead). PostgreSQL shows another user's session
# without its start time (unless the viewer is a superuser or in pg_read_all_stats): such a node is
# told by its pid alone, and a dead node's pid reused by a new session delays its takeover to expiry.
# A session recorded before PostgreSQL last started was ended by that restart, whether its node lives
# or not: until the node reattaches its new session, it counts as alive while its heartbeat is less
# than a lease old (as a paused node would), so a restart does not make every node take the others'
# stations.
_ALIVE = (
    "(n.stopped IS NULL AND (EXISTS (SELECT 1 FROM pg_stat_activity a "
    "WHERE a.pid = n.pid AND (a.backend_start = n.backend_start OR a.backend_start IS NULL)) "
    "OR (n.backend_start < pg_postmaster_start_time() AND n.heartbeat > now() - {lease}::interval)))"
)


@dataclass(frozen=True, slots=True)
class Acquired:
    """The outcome of one attempt to take a lease: ``epoch`` if taken (``fresh`` if the epoch is new,
    so whatever this node knew of the station is stale), else who holds it and for how long."""

    epoch: int | None
    fresh: bool = False
    holder: str | None = None
    remaining: float = 0.0


@dataclass(frozen=True, slots=True)
class Held:
    station: str
    epoch: int
    expires: datetime


@dataclass(frozen=True, slots=True)
class NodeRow:
    node: str
    started: datetime
    heartbeat: datetime
    stopped: datetime | None
    alive: bool
    leases: list[Held]


class NodeNameTaken(StoreError):
    """Another running process already serves under this node name."""


class ClusterTables:
    """The statements of the three tables, on the store's connection pool (``datastore``)."""

    def __init__(self, datastore: PostgresDatastore, lease_seconds: float) -> None:
        self.datastore = datastore
        self.lease = f"{lease_seconds} seconds"
        self.schema = Identifier(datastore.schema)

    def _sql(self, text: str) -> Composed:
        return SQL(text).format(
            schema=self.schema, leases=Identifier(LEASES_TABLE), lease=Literal(self.lease)
        )

    def create(self) -> None:
        """Create the tables if missing; nodes starting together take turns (an advisory lock)."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.datastore.schema}.cluster",)
            )
            for statement in _CREATE:
                cursor.execute(self._sql(statement))

    def register(self, conn: psycopg.Connection[Any], node: str) -> None:
        """Record ``conn``'s backend as ``node``'s; release leases a dead earlier run of it left.

        ``NodeNameTaken`` if a live process holds the name.
        """
        with conn.transaction():
            row = conn.execute(
                self._sql(
                    f"SELECT {_ALIVE} AS alive FROM {{schema}}.chargeward_nodes n "
                    "WHERE n.node = %s FOR UPDATE"
                ),
                (node,),
            ).fetchone()
            if row is not None and row[0]:
                raise NodeNameTaken(f"node {node!r} is already running against this store")
            conn.execute(
                self._sql(
                    "INSERT INTO {schema}.chargeward_nodes (node, pid, backend_start, started, heartbeat) "
                    "SELECT %s, pid, backend_start, now(), now() FROM pg_stat_activity "
                    "WHERE pid = pg_backend_pid() ON CONFLICT (node) DO UPDATE SET pid = excluded.pid, "
                    "backend_start = excluded.backend_start, started = excluded.started, "
                    "heartbeat = excluded.heartbeat, stopped = NULL"
                ),
                (node,),
            )
            conn.execute(
                self._sql("UPDATE {schema}.{leases} SET node = NULL, expires = now() WHERE node = %s"),
                (node,),
            )

    def reattach(self, conn: psycopg.Connection[Any], node: str) -> None:
        """After a lost connection: point ``node``'s row at the new backend, keeping its leases."""
        conn.execute(
            self._sql(
                "UPDATE {schema}.chargeward_nodes n SET pid = a.pid, backend_start = a.backend_start, "
                "heartbeat = now() FROM pg_stat_activity a WHERE a.pid = pg_backend_pid() AND n.node = %s"
            ),
            (node,),
        )

    def acquire(self, station: str, node: str, held_epoch: int | None) -> Acquired:
        """Take (or keep) the lease of ``station`` for ``node``, unless a live node holds it unexpired."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "SELECT l.node, l.epoch, extract(epoch FROM l.expires - now())::float8 AS remaining, "
                    f"coalesce((SELECT {_ALIVE} FROM {{schema}}.chargeward_nodes n WHERE n.node = l.node), "
                    "false) AS alive FROM {schema}.{leases} l WHERE l.station = %s FOR UPDATE"
                ),
                (station,),
            )
            row = cursor.fetchone()
            if row is None:
                cursor.execute(
                    self._sql(
                        "INSERT INTO {schema}.{leases} (station, originator, node, epoch, taken, expires) "
                        "VALUES (%s, %s, %s, 1, now(), now() + %s::interval) "
                        "ON CONFLICT (station) DO NOTHING RETURNING epoch"
                    ),
                    (station, stream_uuid(f"station/{station}"), node, self.lease),
                )
                inserted = cursor.fetchone()
                if inserted is None:  # another node inserted it first: try again as an update
                    return Acquired(None, holder="?", remaining=0.0)
                return Acquired(1, fresh=True)
            if row["node"] == node and row["epoch"] == held_epoch:
                cursor.execute(
                    self._sql(
                        "UPDATE {schema}.{leases} SET expires = now() + %s::interval WHERE station = %s"
                    ),
                    (self.lease, station),
                )
                return Acquired(held_epoch, fresh=False)
            free = row["node"] is None or row["node"] == node or row["remaining"] <= 0 or not row["alive"]
            if not free:
                return Acquired(None, holder=row["node"], remaining=float(row["remaining"]))
            epoch = int(row["epoch"]) + 1
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.{leases} SET node = %s, epoch = %s, taken = now(), "
                    "expires = now() + %s::interval WHERE station = %s"
                ),
                (node, epoch, self.lease, station),
            )
            return Acquired(epoch, fresh=True)

    def renew(self, node: str, stations: list[str]) -> dict[str, int]:
        """Extend ``node``'s leases of ``stations`` and beat its heart; the (station, epoch) still held."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql("UPDATE {schema}.chargeward_nodes SET heartbeat = now() WHERE node = %s"), (node,)
            )
            if not stations:
                return {}
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.{leases} SET expires = now() + %s::interval "
                    "WHERE node = %s AND station = ANY(%s) RETURNING station, epoch"
                ),
                (self.lease, node, stations),
            )
            return {row["station"]: int(row["epoch"]) for row in cursor.fetchall()}

    def release(self, station: str, node: str, epoch: int) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.{leases} SET node = NULL, expires = now() "
                    "WHERE station = %s AND node = %s AND epoch = %s"
                ),
                (station, node, epoch),
            )

    def release_all(self, leases: list[tuple[str, int]], node: str) -> None:
        """Release each (station, epoch) ``node`` still holds, in one transaction."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.{leases} l SET node = NULL, expires = now() "
                    "FROM unnest(%s::text[], %s::bigint[]) AS r(station, epoch) "
                    "WHERE l.station = r.station AND l.epoch = r.epoch AND l.node = %s"
                ),
                ([s for s, _ in leases], [e for _, e in leases], node),
            )

    def orphans(self, stations: list[str]) -> list[tuple[str, str | None, bool]]:
        """Those of ``stations`` no live node holds an unexpired lease of: (station, the node that
        last held it or None, whether that node's process is alive)."""
        with self.datastore.transaction() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT s.station, l.node, coalesce(k.alive, false) AS alive, "
                    "l.expires > now() AS unexpired "
                    "FROM unnest(%s::text[]) AS s(station) "
                    "LEFT JOIN {schema}.{leases} l ON l.station = s.station "
                    f"LEFT JOIN (SELECT n.node, {_ALIVE} AS alive FROM {{schema}}.chargeward_nodes n) k "
                    "ON k.node = l.node"
                ),
                (stations,),
            )
            rows = cursor.fetchall()
        return [
            (row["station"], row["node"], bool(row["alive"]))
            for row in rows
            if row["node"] is None or not row["alive"] or not row["unexpired"]
        ]

    def stop(self, node: str) -> None:
        """A clean stop: every lease of ``node`` released, its row marked stopped."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql("UPDATE {schema}.{leases} SET node = NULL, expires = now() WHERE node = %s"),
                (node,),
            )
            cursor.execute(
                self._sql("UPDATE {schema}.chargeward_nodes SET stopped = now() WHERE node = %s"), (node,)
            )

    def owner(self, station: str) -> str | None:
        """The node holding an unexpired lease of ``station``, if any."""
        with self.datastore.transaction() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT node FROM {schema}.{leases} WHERE station = %s AND node IS NOT NULL "
                    "AND expires > now()"
                ),
                (station,),
            )
            row = cursor.fetchone()
        return None if row is None else str(row["node"])

    def nodes(self) -> list[NodeRow]:
        """Every node that ever ran against the store, with the leases it holds."""
        with self.datastore.transaction() as cursor:
            cursor.execute(
                self._sql(
                    f"SELECT n.node, n.started, n.heartbeat, n.stopped, {_ALIVE} AS alive "
                    "FROM {schema}.chargeward_nodes n ORDER BY n.node"
                )
            )
            nodes = cursor.fetchall()
            cursor.execute(
                self._sql(
                    "SELECT station, node, epoch, expires FROM {schema}.{leases} "
                    "WHERE node IS NOT NULL ORDER BY station"
                )
            )
            leases = cursor.fetchall()
        by_node: dict[str, list[Held]] = {}
        for lease in leases:
            by_node.setdefault(lease["node"], []).append(
                Held(lease["station"], int(lease["epoch"]), lease["expires"])
            )
        return [
            NodeRow(
                row["node"],
                row["started"],
                row["heartbeat"],
                row["stopped"],
                bool(row["alive"]),
                by_node.get(row["node"], []),
            )
            for row in nodes
        ]

    # -- calls between nodes ---------------------------------------------------------------------

    def send_call(self, from_node: str, to_node: str, station: str, body: bytes, channel: str) -> int:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.chargeward_calls (from_node, to_node, station, body) "
                    "VALUES (%s, %s, %s, %s) RETURNING id"
                ),
                (from_node, to_node, station, body),
            )
            row = cursor.fetchone()
            assert row is not None
            call_id = int(row["id"])
            cursor.execute("SELECT pg_notify(%s, %s)", (channel, f"c:{call_id}"))
        return call_id

    def take_call(self, call_id: int, node: str) -> tuple[str, str, bytes, float] | None:
        """(from node, station, body, age in seconds) of a call to ``node`` not yet answered."""
        with self.datastore.transaction() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT from_node, station, body, extract(epoch FROM now() - created)::float8 AS age "
                    "FROM {schema}.chargeward_calls WHERE id = %s AND to_node = %s AND reply IS NULL"
                ),
                (call_id, node),
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return row["from_node"], row["station"], bytes(row["body"]), float(row["age"])

    def pending_calls(self, node: str, within: float) -> list[int]:
        """Ids of the calls to ``node`` not yet answered, made in the last ``within`` seconds."""
        with self.datastore.transaction() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT id FROM {schema}.chargeward_calls WHERE to_node = %s AND reply IS NULL "
                    "AND created > now() - make_interval(secs => %s) ORDER BY id"
                ),
                (node, within),
            )
            return [int(row["id"]) for row in cursor.fetchall()]

    def answer_call(self, call_id: int, reply: bytes, channel: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql("UPDATE {schema}.chargeward_calls SET reply = %s WHERE id = %s"), (reply, call_id)
            )
            cursor.execute("SELECT pg_notify(%s, %s)", (channel, f"r:{call_id}"))

    def reply_of(self, call_id: int) -> bytes | None:
        with self.datastore.transaction() as cursor:
            cursor.execute(self._sql("SELECT reply FROM {schema}.chargeward_calls WHERE id = %s"), (call_id,))
            row = cursor.fetchone()
        return None if row is None or row["reply"] is None else bytes(row["reply"])

    def forget_call(self, call_id: int) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql("DELETE FROM {schema}.chargeward_calls WHERE id = %s"), (call_id,))
