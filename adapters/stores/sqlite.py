"""The ``sqlite://`` backend: the library's SQLite recorder, the embedded default (WAL on files).

URLs: ``sqlite:///abs/path/events.db`` or ``sqlite:relative/events.db`` (resolved against the
current directory when opened), optionally ``?lock_timeout=<seconds>`` (how long a commit waits for
another process's write lock; the library's default is 5) and ``?committer=process|thread``: where
commits run. ``process`` (the default) is a child process with its own GIL
(:mod:`adapters.stores.sqlite_committer`; at saturation it carries more messages per second than
a thread of the server, see bench/results/README.md); ``thread`` is a worker thread of the server,
for embedding where a child process is unwelcome. The recorder is
``adapters.stores.sqlite_recorder.SQLiteStreamRecorder``.

Snapshots (``core.store.SnapshotStore``: projection checkpoints, actor snapshots) live in a table of
the same file, ``chargeward_snapshots``, written on a connection of their own (``SQLiteSnapshots``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from urllib.parse import parse_qs, urlsplit

from eventsourcing.persistence import InfrastructureFactory

from adapters.stores.committer import CommitterProcess
from adapters.stores.recording import RecordedLog, RecordMapper
from adapters.stores.sqlite_recorder import RECORDER_TOPIC, SQLiteStreamRecorder
from core.codec import MsgpackTranscoder
from core.store import StoreUnavailable

__all__ = ["SQLiteSnapshots", "open_log", "sqlite_path"]


class SQLiteSnapshots:
    """Blobs by key in the table ``chargeward_snapshots`` of the store's file (blocking; any thread).

    The events stay under the library's recorder; this table is chargeward's own (the library keeps
    snapshots per aggregate version, not one replaceable blob per key). One row per key, replaced in
    a transaction of its own: a reader sees the old blob or the new one, never a mix.
    """

    def __init__(self, path: str, lock_timeout: float) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=lock_timeout, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS chargeward_snapshots (key TEXT PRIMARY KEY, blob BLOB NOT NULL)"
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
        snapshots = SQLiteSnapshots(path, float(options.get("lock_timeout", 5)))
    except (sqlite3.Error, ValueError) as e:
        factory.close()
        raise StoreUnavailable(path, f"{type(e).__name__}: {e}") from e

    def close() -> None:
        snapshots.close()
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
        snapshots=snapshots,
    )
