"""The SQLite backend's durability settings: WAL with synchronous=FULL (a commit is fsynced).

eventsourcing sets WAL itself and leaves ``synchronous`` to the SQLite build's default (FULL in
the builds we know); the README promises an acknowledged event survives a power cut, so pin it.
"""

from __future__ import annotations

from pathlib import Path

from adapters.stores.sqlite import open_log


def test_wal_and_synchronous_full(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path}/events.db", 0.1)
    try:
        with log.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode")
            assert tuple(cursor.fetchone()) == ("wal",)
            cursor.execute("PRAGMA synchronous")
            assert tuple(cursor.fetchone()) == (2,), "2 is FULL: every commit is fsynced"
    finally:
        log.close()


def test_side_tables_skip_the_fsync_the_log_keeps(tmp_path: Path) -> None:
    """Snapshots, checkpoints and the transaction index only save work: their connection commits
    without an fsync (NORMAL, safe from corruption in WAL), while the log's stays FULL above."""
    log = open_log(f"sqlite:///{tmp_path}/events.db", 0.1)
    try:
        assert log.side is not None
        assert tuple(log.side._db.execute("PRAGMA synchronous").fetchone()) == (1,)  # type: ignore[attr-defined]
        log.side.save("k", b"blob")
        assert log.side.load("k") == b"blob"
    finally:
        log.close()
