"""The server's side of the SQLite committer process (see :mod:`adapters.stores.sqlite_committer`).

``CommitterProcess.insert`` sends one batch and waits for its reply on a trio socket: no worker thread,
so no GIL shared with the commit. The batching writer commits one batch at a time, so one request is
in flight at most. If the child dies, or a request is abandoned half way (cancelled), the child is
let go and the next batch starts a fresh one; the batch in hand fails with ``CommitterLost`` (an
``OutcomeUnknown``) and the writer reports it to its appenders as ``CommitFailed`` saying it may be
stored. Whether that batch reached the disk is then unknown, which is the same as a crash during a
commit: nobody was told it was stored, and the writer forgets its cached stream heads so that the
next appends check against the log. A child found dead before a batch is sent (killed while idle)
is replaced before that batch, which then does not fail at all.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack
import trio

from adapters.stores.recording import stream_uuid, topic
from adapters.stores.sqlite_committer import FAILED, LENGTH, OK, SEQUENCE_TAKEN, frame
from core.store import StoreUnavailable
from core.writer import OutcomeUnknown, Row, SequenceTaken

__all__ = ["CommitterLost", "CommitterProcess"]

# The directory holding this build's ``adapters`` package. ``python -m`` looks in its working directory
# first, so the child runs there: started anywhere else (say, in another checkout of chargeward), it
# could load another build's committer, which speaks another wire format.
_CODE_ROOT = str(Path(__file__).resolve().parents[2])

# How long a closing committer may take to finish its commit in hand before it is killed.
_EXIT_GRACE = 5.0


class CommitterLost(OutcomeUnknown):
    """The committer process died or stopped answering; the batch in hand may or may not be stored."""


class _Channel:
    """One running child and the socket to it."""

    def __init__(self, process: trio.Process, stream: trio.SocketStream) -> None:
        self.process = process
        self.stream = stream
        self._buffer = bytearray()

    async def request(self, body: Any) -> Any:
        await self.stream.send_all(frame(body))
        return await self.reply()

    async def reply(self) -> Any:
        while True:
            if len(self._buffer) >= LENGTH.size:
                (length,) = LENGTH.unpack_from(self._buffer)
                end = LENGTH.size + length
                if len(self._buffer) >= end:
                    body = bytes(self._buffer[LENGTH.size : end])
                    del self._buffer[:end]
                    return msgpack.unpackb(body, raw=False)
            data = await self.stream.receive_some(65536)
            if not data:
                raise CommitterLost(f"the committer process (pid {self.process.pid}) closed its socket")
            self._buffer += data

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await self.stream.aclose()  # EOF: the child finishes its commit in hand and exits
            with trio.move_on_after(_EXIT_GRACE):
                await self.process.wait()
                return
            self.process.kill()
            await self.process.wait()


class CommitterProcess:
    """Commits batches to the SQLite file at ``path`` in a child process.

    The store starts it when it opens (so a database the child cannot open fails there) and closes it
    with the store; a child lost in between is replaced at the next commit.
    """

    def __init__(self, path: str, lock_timeout: str | None = None) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.starts = 0
        """Children started so far (more than one: a child was lost and replaced)."""
        self._channel: _Channel | None = None

    @property
    def pid(self) -> int | None:
        return self._channel.process.pid if self._channel is not None else None

    async def start(self) -> None:
        """Start the child if none runs; ``StoreUnavailable`` if it cannot open the database."""
        if self._channel is not None:
            await trio.lowlevel.checkpoint()
            return
        ours, theirs = socket.socketpair()
        argv = [sys.executable, "-m", "adapters.stores.sqlite_committer", self.path, str(theirs.fileno())]
        if self.lock_timeout is not None:
            argv.append(self.lock_timeout)
        try:
            process = await trio.lowlevel.open_process(argv, pass_fds=(theirs.fileno(),), cwd=_CODE_ROOT)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        channel = _Channel(process, trio.SocketStream(trio.socket.from_stdlib_socket(ours)))
        try:
            status, detail = await channel.reply()
        except BaseException:
            await channel.aclose()
            raise
        if status != OK:
            await channel.aclose()
            raise StoreUnavailable(self.path, f"the committer process could not open it: {detail}")
        self._channel = channel
        self.starts += 1

    async def insert(self, rows: Sequence[Row]) -> list[int]:
        """Commit ``rows`` (run, first sequence, encoded state) in one transaction; the position of
        each row's last event."""
        if self._channel is not None and self._channel.process.poll() is not None:
            lost, self._channel = self._channel, None  # died while idle: nothing of this batch was sent
            await lost.aclose()
        await self.start()
        channel = self._channel
        assert channel is not None
        body = [
            [stream_uuid(run[0].stream).bytes, seq, topic(run), state, len(run)] for run, seq, state in rows
        ]
        try:
            status, detail = await channel.request(body)
        except BaseException as e:
            # Lost, or abandoned with the reply still to come: this child cannot be trusted to be
            # in step with us any more. Let it go; the next batch starts another.
            self._channel = None
            await channel.aclose()
            if isinstance(e, trio.BrokenResourceError | trio.ClosedResourceError):
                raise CommitterLost(f"the committer process (pid {channel.process.pid}) is gone") from e
            raise
        if status == SEQUENCE_TAKEN:
            raise SequenceTaken(detail)
        if status == FAILED:
            raise RuntimeError(f"the committer process could not commit: {detail}")
        if len(detail) != len(rows):
            raise RuntimeError(f"the committer process returned {len(detail)} positions for {len(rows)} rows")
        return list(detail)

    async def aclose(self) -> None:
        """Let the child finish what it has in hand and exit."""
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.aclose()
        else:
            await trio.lowlevel.checkpoint()
