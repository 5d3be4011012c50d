"""The SQLite committer process: commits batches of rows that the server sends it over a socket.

Why a process: the server's trio thread and a commit thread share one GIL, and Python's sqlite3
releases and retakes the GIL around every prepare, step and reset. Under load the commit thread spent
most of each commit waiting to get the GIL back (py-spy: ``pthread_cond_timedwait`` under
``_pysqlite_query_execute``), and the stations waited for those commits. A child process has a GIL of
its own; the server just writes a request and reads the reply on a trio socket.

It stays small and imports little beyond the standard library, ``msgpack`` and ``eventsourcing``, so it
starts quickly. Rows are inserted through the library's application recorder, like every other write
(persistence goes through ``eventsourcing``'s recorders; see docs/design.md): the server's own
``SQLiteStreamRecorder``, which stores runs of events, one row each.

Wire format, both ways: a 4-byte big-endian length, then a msgpack body.

- request: ``[[originator_id (16 bytes), originator_version, topic, state, events in the row], ...]``,
  one transaction;
- reply: ``[OK, [notification_id, ...]]`` (per row: the position of its last event),
  ``[SEQUENCE_TAKEN, message]`` (nothing stored, a row's
  ``(originator_id, originator_version)`` exists) or ``[FAILED, message]`` (nothing stored);
- once at start: ``[OK, []]`` when the database is open, or ``[FAILED, message]`` before exiting.

It exits when the server closes its end (EOF), after finishing the commit in hand, so a server
killed with SIGKILL takes its committer with it and loses nothing it acknowledged.

Run as ``python -m adapters.stores.sqlite_committer <db path> <socket fd> [lock timeout]``.
"""

from __future__ import annotations

import signal
import socket
import struct
import sys
from typing import Any, BinaryIO
from uuid import UUID

import msgpack
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, StoredEvent

from adapters.stores.sqlite_recorder import RECORDER_TOPIC

__all__ = ["FAILED", "LENGTH", "OK", "SEQUENCE_TAKEN", "frame", "main", "read_frame"]

OK, SEQUENCE_TAKEN, FAILED = 0, 1, 2
LENGTH = struct.Struct(">I")
"""The length prefix of every message."""


def frame(body: Any) -> bytes:
    """One message on the wire: length prefix and msgpack body."""
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return LENGTH.pack(len(packed)) + packed


def read_frame(stream: BinaryIO) -> Any:
    """The next message from a blocking stream, or None at a clean EOF."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    (length,) = LENGTH.unpack(head)
    body = stream.read(length)
    if len(body) < length:
        return None
    return msgpack.unpackb(body, raw=False)


class _Database:
    """The recorder the rows go through; after a failed commit, the next one opens it afresh.

    A connection is not trusted after a failed commit: with SQLite 3.40, a connection whose INSERT
    failed in a trigger kept failing the same way after another connection had dropped the trigger.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._open()

    def _open(self) -> None:
        self._factory = InfrastructureFactory.construct(self._env)
        self._recorder: Any = self._factory.application_recorder()
        self._failed = False

    def commit(self, rows: list[list[Any]]) -> list[Any]:
        if self._failed:
            self.close()
            self._open()
        stored = [
            StoredEvent(originator_id=UUID(bytes=bytes(o)), originator_version=v, topic=t, state=bytes(s))
            for o, v, t, s, _ in rows
        ]
        try:
            positions = self._recorder.insert_events(stored, sizes=[n for *_, n in rows])
        except IntegrityError as e:
            return [SEQUENCE_TAKEN, str(e)]
        except Exception as e:  # reported to the server, which fails the batch; nothing was stored
            self._failed = True
            return [FAILED, f"{type(e).__name__}: {e}"]
        return [OK, list(positions or [])]

    def close(self) -> None:
        self._factory.close()


def main(argv: list[str]) -> int:
    # Ctrl-C on a terminal reaches the whole process group. The server owns the shutdown: it stops
    # sending and closes the socket, and this loop ends at that end of file with its batch committed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    path, fd = argv[0], int(argv[1])
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": path,
        "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
    }
    if len(argv) > 2:
        env["SQLITE_LOCK_TIMEOUT"] = argv[2]
    with socket.socket(fileno=fd) as sock, sock.makefile("rb") as incoming:
        try:
            database = _Database(env)
        except Exception as e:
            sock.sendall(frame([FAILED, f"{type(e).__name__}: {e}"]))
            return 1
        try:
            sock.sendall(frame([OK, []]))
            while (rows := read_frame(incoming)) is not None:
                sock.sendall(frame(database.commit(rows)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server went away mid-reply: what was committed stays committed
        finally:
            database.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
