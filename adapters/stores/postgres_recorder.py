"""The PostgreSQL recorder chargeward stores through: the library's application recorder, storing runs.

Named by ``APPLICATION_RECORDER_TOPIC`` (``RECORDER_TOPIC``) so the library's own factory builds it,
creates its table (``stored_events`` in the URL's schema) and hands it the library's connection pool.
It keeps the library's table, reads (``select_notifications``, ``select_events``,
``max_notification_id``) and exclusive table lock; it replaces the insert, for the same reasons as
the SQLite one (``adapters.stores.sqlite_recorder``) plus one of its own:

- each row gets the notification id of its run's last event: the head plus the sizes of the rows up
  to it, computed under the table lock, so positions stay contiguous and in commit order;
- the library retries a failed insert up to ten times. After a connection lost during ``COMMIT`` that
  retry would meet its own first attempt as a duplicate key, which the writer takes for another
  writer's events and appends the batch again. Here nothing is retried: a failure before ``COMMIT``
  was sent is ``NotStored``, one during it ``OutcomeUnknown`` (the writer tells its appenders the
  batch may be stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier, Literal

from core.writer import OutcomeUnknown

__all__ = ["RECORDER_TOPIC", "CommitInterrupted", "LeaseLost", "NotStored", "PostgresStreamRecorder"]

LEASES_TABLE = "chargeward_leases"
"""Station leases of the nodes sharing a store (created and kept by ``adapters.cluster``)."""

_INT64_MAX = 2**63 - 1  # PostgreSQL's bigint: no sequence is above it


class NotStored(Exception):
    """The insert failed before its transaction could commit (no connection, a statement failed)."""


class LeaseLost(NotStored):
    """A commit's station stream is leased to another node, or under a newer epoch: nothing stored."""


class CommitInterrupted(OutcomeUnknown):
    """The connection failed while the commit was in flight: the batch may or may not be stored."""


class PostgresStreamRecorder(PostgresApplicationRecorder):
    """``PostgresApplicationRecorder`` whose rows hold runs of events (see ``adapters.stores.recording``).

    ``insert_events`` takes ``sizes`` (events per row; without them every row is one event).
    ``select_stream`` reads one stream with notification ids as positions, from the row holding
    ``gt + 1``. With ``leases`` (originator id and epoch of each station stream of the batch) and
    ``node``, the insert first locks those streams' lease rows (``FOR SHARE``, so a takeover waits
    for the commit and the commit sees a takeover that came first) and stores nothing, raising
    ``LeaseLost``, unless ``node`` holds each of them under that epoch: the fencing of several nodes.
    Commits notify ``channel_name`` (the schema and table, so stores in other schemas of
    one database are not woken) with ``writer_id`` as the payload (``PostgresNotifier`` listens).
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema, table = Identifier(datastore.schema), Identifier(events_table_name)
        self.channel_name = f"{datastore.schema}_{events_table_name}"[:63]
        self.writer_id = uuid4().hex
        """The payload of this recorder's notifications, so its own listener can tell them apart."""
        self._lock_and_notify = SQL(
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; NOTIFY {channel}, {writer}"
        ).format(
            schema=schema, table=table, channel=Identifier(self.channel_name), writer=Literal(self.writer_id)
        )
        # One statement for the whole batch: the i-th row is numbered head + sizes[0] + ... + sizes[i].
        self._insert_runs = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state, notification_id) "
            "SELECT r.originator_id, r.originator_version, r.topic, r.state, "
            "(SELECT coalesce(max(notification_id), 0) FROM {schema}.{table}) "
            "+ sum(r.size) OVER (ORDER BY r.ord) "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], %s::bigint[]) "
            "WITH ORDINALITY AS r(originator_id, originator_version, topic, state, size, ord) "
            "RETURNING notification_id"
        ).format(schema=schema, table=table)
        self._leases = SQL(
            "SELECT originator, node, epoch FROM {schema}.{leases} WHERE originator = ANY(%s::uuid[]) "
            "FOR SHARE"
        ).format(schema=schema, leases=Identifier(LEASES_TABLE))
        self._select_stream = SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = %s AND originator_version >= coalesce(("
            "SELECT max(originator_version) FROM {schema}.{table} "
            "WHERE originator_id = %s AND originator_version <= %s), 0) "
            "ORDER BY originator_version LIMIT %s"
        ).format(schema=schema, table=table)

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        sizes: Sequence[int] | None = None,
        leases: Sequence[tuple[UUID, int]] = (),
        node: str = "",
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        sizes = list(sizes or [1] * len(stored_events))
        if len(sizes) != len(stored_events):
            raise ValueError(f"{len(sizes)} sizes for {len(stored_events)} rows")
        columns = (
            [_uuid(e.originator_id) for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
            sizes,
        )
        try:
            with self.datastore.pool.connection() as conn:
                return self._insert(conn, columns, dict(leases), node)
        except (IntegrityError, OutcomeUnknown, NotStored):
            raise
        except psycopg.Error as e:  # no connection to be had (pool timeout, server down)
            raise NotStored(f"{type(e).__name__}: {e}") from e

    def _insert(
        self,
        conn: psycopg.Connection[Any],
        columns: tuple[list[Any], ...],
        leases: dict[UUID, int],
        node: str,
    ) -> list[int]:
        committing = False
        try:
            with conn.transaction():
                with conn.cursor() as cursor:
                    cursor.execute(self._lock_and_notify)
                    if leases:
                        cursor.execute(self._leases, (list(leases),))
                        held = {row["originator"]: (row["node"], row["epoch"]) for row in cursor.fetchall()}
                        lost = [o for o, epoch in leases.items() if held.get(o) != (node, epoch)]
                        if lost:
                            raise LeaseLost(
                                f"node {node!r} no longer holds the lease of {len(lost)} station stream(s) "
                                f"of this batch (first: originator {lost[0]}, held as {held.get(lost[0])})"
                            )
                    cursor.execute(self._insert_runs, columns, prepare=True)
                    ids = sorted(row["notification_id"] for row in cursor.fetchall())
                committing = True  # leaving the block sends COMMIT
        except psycopg.errors.UniqueViolation as e:
            raise IntegrityError(str(e)) from e
        except psycopg.Error as e:
            if committing:
                raise CommitInterrupted(f"PostgreSQL connection lost during COMMIT: {e}") from e
            raise NotStored(f"{type(e).__name__}: {e}") from e
        return ids

    def select_stream(self, originator_id: UUID, gt: int, limit: int | None) -> Sequence[Notification]:
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                self._select_stream,
                (originator_id, originator_id, min(gt + 1, _INT64_MAX), limit),
                prepare=True,
            )
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in cursor.fetchall()
            ]


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


RECORDER_TOPIC = f"{__name__}:PostgresStreamRecorder"
