"""The ``sqlite://`` backend: the library's SQLite recorder, the embedded default (WAL on files).

URLs: ``sqlite:///abs/path/events.db`` or ``sqlite:relative/events.db`` (resolved against the
current directory when opened), optionally ``?lock_timeout=<seconds>`` (how long a commit waits for
another process's write lock; the library's default is 5) and ``?committer=process|thread``: where
commits run. ``process`` (the default) is a child process with its own GIL
(:mod:`adapters.stores.sqlite_committer`; at saturation it carries more messages per second than
a thread of the server, see bench/results/README.md); ``thread`` is a worker thread of the server,
for embedding where a child process is unwelcome. The recorder is
``adapters.stores.sqlite_recorder.SQLiteStreamRecorder``.

Snapshots (``core.store.SnapshotStore``: projection checkpoints, actor snapshots) and the transaction
index (``projections.transactions``) live in tables of the same file, written on a connection of
their own (``SQLiteSideTables``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from eventsourcing.persistence import InfrastructureFactory

from adapters.stores.committer import CommitterProcess
from adapters.stores.recording import RecordedLog, RecordMapper
from adapters.stores.sqlite_recorder import RECORDER_TOPIC, SQLiteStreamRecorder
from core.codec import MsgpackTranscoder
from core.store import StoreUnavailable
from projections.transactions import TRANSACTION_FIELDS, TRANSACTION_INDEX, TransactionQuery

__all__ = ["SQLiteSideTables", "open_log", "sqlite_path"]


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# The transaction index's columns (projections.transactions.TRANSACTION_FIELDS, in order). Values
# have no declared type, so SQLite keeps each as given: a float meter reading stays a float.
_TRANSACTION_COLUMNS = (
    "transaction_id PRIMARY KEY, station_id TEXT NOT NULL, connector, id_tag TEXT, started TEXT, "
    "meter_start_wh, tag_status TEXT, stopped TEXT, meter_stop_wh, energy_wh, stop_reason TEXT, "
    "stop_id_tag TEXT, closed_by TEXT, start_sequence INTEGER NOT NULL"
)


class SQLiteSideTables:
    """chargeward's own tables in the store's file: snapshots by key, and the transaction index.

    The events stay under the library's recorder; these tables are chargeward's (the library keeps
    snapshots per aggregate version, not one replaceable blob per key, and has no read-model tables).
    They are written on a connection of their own, each write a transaction: a reader sees a
    snapshot, or the index's rows and position, as before or as after a write, never a mix. Value
    columns have no declared type, so SQLite keeps each value as given (an integer stays one).
    """

    def __init__(self, path: str, lock_timeout: float) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=lock_timeout, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if self._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            # What these tables hold only saves work and is rebuilt from the log, so their writes need
            # no fsync of their own (the log's commits keep synchronous=FULL): in WAL mode NORMAL
            # never corrupts, and at worst loses the last writes to a power cut. A snapshot write
            # used to fsync once per 200 records of each station, beside the log's commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS chargeward_snapshots (key TEXT PRIMARY KEY, blob BLOB NOT NULL)"
            )
            self._db.execute(f"CREATE TABLE IF NOT EXISTS chargeward_transactions ({_TRANSACTION_COLUMNS})")
            self._db.execute(
                "CREATE INDEX IF NOT EXISTS chargeward_transactions_by_station "
                "ON chargeward_transactions (station_id, transaction_id)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS chargeward_positions "
                "(name TEXT PRIMARY KEY, position INTEGER NOT NULL)"
            )

    def load(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT blob FROM chargeward_snapshots WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def save(self, key: str, blob: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO chargeward_snapshots (key, blob) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET blob=excluded.blob",
                (key, blob),
            )

    def position(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT position FROM chargeward_positions WHERE name=?", (TRANSACTION_INDEX,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def apply(self, rows: Sequence[Mapping[str, Any]], position: int) -> None:
        names = ", ".join(TRANSACTION_FIELDS)
        marks = ", ".join("?" for _ in TRANSACTION_FIELDS)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO chargeward_transactions ({names}) VALUES ({marks})",
                    [tuple(row[name] for name in TRANSACTION_FIELDS) for row in rows],
                )
                self._db.execute(
                    "INSERT INTO chargeward_positions (name, position) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET position=excluded.position",
                    (TRANSACTION_INDEX, position),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, transaction_id: int | str) -> dict[str, Any] | None:
        if isinstance(transaction_id, int) and not _INT64_MIN <= transaction_id <= _INT64_MAX:
            return None  # no row can have it: SQLite integers are 64-bit
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM chargeward_transactions WHERE transaction_id=?", (transaction_id,)
            ).fetchone()
        return None if row is None else dict(row)

    def find(self, query: TransactionQuery) -> list[dict[str, Any]]:
        # The column has no affinity, so SQLite orders its integers before its text (BINARY
        # collation: code-point order), as listing_key does, and an integer bound passes every text.
        where = ["typeof(transaction_id) IN ('integer', 'text')"]
        args: list[object] = []
        after = query.after
        if isinstance(after, str) or (after is not None and after >= _INT64_MIN):
            where.append("transaction_id > ?")
            args.append(min(after, _INT64_MAX) if isinstance(after, int) else after)
        if query.station is not None:
            where.append("station_id = ?")
            args.append(query.station)
        if query.active is not None:
            where.append("stopped IS NULL" if query.active else "stopped IS NOT NULL")
        sql = (
            f"SELECT * FROM chargeward_transactions WHERE {' AND '.join(where)} "
            "ORDER BY transaction_id LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (*args, query.limit)).fetchall()
        return [dict(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def sqlite_path(url: str) -> tuple[str, dict[str, str]]:
    """The absolute file path and query options of a ``sqlite:`` URL; ValueError if malformed."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.fragment:
        raise ValueError(f"not a sqlite URL: {url!r}")
    if parts.netloc:
        raise ValueError(f"sqlite URL has a host part {parts.netloc!r}; use sqlite:///abs/path.db: {url!r}")
    path = parts.path
    if not path or path.endswith("/") or ":memory:" in path:
        raise ValueError(f"sqlite URL must name a database file: {url!r}")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    options = {key: values[-1] for key, values in query.items()}
    unknown = set(options) - {"lock_timeout", "committer"}
    if unknown:
        raise ValueError(
            f"unknown sqlite URL options {sorted(unknown)} in {url!r} (known: committer, lock_timeout)"
        )
    if options.get("committer", "process") not in ("process", "thread"):
        raise ValueError(f"sqlite URL option committer must be 'process' or 'thread': {url!r}")
    # "sqlite:////abs" (the SQLAlchemy spelling) means the same file as "sqlite:///abs".
    return os.path.abspath("/" + path.lstrip("/") if path.startswith("/") else path), options


def open_log(url: str, poll_interval: float) -> RecordedLog:
    """Open (creating if needed) the SQLite file named by ``url``; blocking, run it off the trio thread."""
    path, options = sqlite_path(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": path,
        "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
    }
    if "lock_timeout" in options:
        env["SQLITE_LOCK_TIMEOUT"] = options["lock_timeout"]
    try:
        factory = InfrastructureFactory.construct(env)
    except OSError as e:
        raise ValueError(f"bad sqlite URL {url!r}: {e}") from e
    try:
        # Connects, switches the file to WAL and creates the table: where a bad path shows up.
        recorder = factory.application_recorder()
    except Exception as e:
        factory.close()
        raise StoreUnavailable(path, f"{type(e).__name__}: {e}") from e
    assert isinstance(recorder, SQLiteStreamRecorder)
    mapper = factory.mapper(transcoder=MsgpackTranscoder(), mapper_class=RecordMapper)
    assert isinstance(mapper, RecordMapper)
    try:
        side = SQLiteSideTables(path, float(options.get("lock_timeout", 5)))
    except (sqlite3.Error, ValueError) as e:
        factory.close()
        raise StoreUnavailable(path, f"{type(e).__name__}: {e}") from e

    def close() -> None:
        side.close()
        factory.close()

    committer = (
        CommitterProcess(path, options.get("lock_timeout"))
        if options.get("committer", "process") == "process"
        else None
    )
    return RecordedLog(
        recorder,
        mapper,
        location=path,
        offload=True,
        poll_interval=poll_interval,
        close=close,
        committer=committer,
        side=side,
    )
