"""The SQLite recorder chargeward stores through, here and in the committer process.

It is named by ``APPLICATION_RECORDER_TOPIC`` (``RECORDER_TOPIC``) so the library's own factory builds
it. A module of its own, importing only ``eventsourcing``, so the committer process can load it
without the server's side of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

__all__ = ["RECORDER_TOPIC", "SQLiteStreamRecorder"]

_INT64_MAX = 2**63 - 1  # SQLite's largest integer: no sequence is above it


class SQLiteStreamRecorder(SQLiteApplicationRecorder):
    """``SQLiteApplicationRecorder`` whose rows hold runs of events (see ``adapters.stores.recording``).

    ``insert_events`` takes ``sizes`` (events per row) and gives each row the rowid of its last
    event's position: the head's rowid plus its size, so the positions in between stay free for the
    run; without sizes every row is one event.
    ``select_stream`` reads one stream with rowids as positions, from the row holding ``gt + 1``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = self.events_table_name
        self._insert_run_statement = (
            f"INSERT INTO {table} (rowid, originator_id, originator_version, topic, state) "
            f"VALUES ((SELECT coalesce(max(rowid), 0) FROM {table}) + ?, ?, ?, ?, ?)"
        )
        self._select_stream_statement = (
            f"SELECT rowid, * FROM {table} WHERE originator_id=? AND originator_version>=coalesce(("
            f"SELECT max(originator_version) FROM {table} WHERE originator_id=? AND originator_version<=?"
            "), 0) ORDER BY originator_version LIMIT ?"
        )

    def _insert_events(
        self,
        c: Any,
        stored_events: Sequence[StoredEvent],
        *,
        sizes: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        positions = []
        for stored, size in zip(stored_events, sizes or [1] * len(stored_events), strict=True):
            originator = stored.originator_id
            originator_id = originator.hex if isinstance(originator, UUID) else originator
            c.execute(
                self._insert_run_statement,
                (size, originator_id, stored.originator_version, stored.topic, stored.state),
            )
            positions.append(c.lastrowid)
        return positions

    def select_stream(self, originator_id: UUID, gt: int, limit: int | None) -> Sequence[Notification]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self._select_stream_statement,
                (originator_id.hex,) * 2 + (min(gt + 1, _INT64_MAX), -1 if limit is None else limit),
            )
            return [
                Notification(
                    id=row["rowid"],
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]


RECORDER_TOPIC = f"{__name__}:SQLiteStreamRecorder"
