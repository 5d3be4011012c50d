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
