"""Projections: pure folds over the committed log, run live or replayed.

A ``Projection[S]`` says how to start (``initial``) and how one record changes the state (``fold``);
it must be pure, so the same log always gives the same state. ``replay`` runs it over stored
records (replay tooling, and the reference the live state must equal). ``ProjectionRunner`` follows
the store from a tracked position, keeps ``state`` and ``position``, lets a caller wait until a
position is folded in (read-your-writes after an append), and resumes after a restart from a
checkpoint: position and state encoded with the codec, so the state must be codec-encodable
(mappings, lists, numbers, strings, bytes, datetimes, decimals, UUIDs). A missing, foreign or
unreadable checkpoint, or one ahead of the log, is ignored and the projection rebuilds from 0.

A projection whose state is made of dataclasses gives the runner a ``StateCodec``
(``core.state_codec``): the checkpoint then carries the codec's fingerprint, and one saved by
another build or for another shape is ignored the same way. ``StoredCheckpoint`` keeps the
checkpoint in the event store itself (``core.store.SnapshotStore``).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

import trio

from core.codec import pack, unpack
from core.events import EventRecord
from core.follow import CommitSignal
from core.store import EventStore, SnapshotStore

__all__ = [
    "CheckpointStore",
    "FileCheckpoint",
    "MemoryCheckpoint",
    "Projection",
    "ProjectionRunner",
    "StateEncoding",
    "StoredCheckpoint",
    "replay",
]

S = TypeVar("S")
log = logging.getLogger(__name__)


class Projection(Protocol[S]):
    """A named, pure fold ``(state, record) -> state``."""

    @property
    def name(self) -> str: ...

    def initial(self) -> S: ...

    def fold(self, state: S, record: EventRecord) -> S: ...


def replay(projection: Projection[S], records: Iterable[EventRecord]) -> S:
    """Fold ``records`` from the projection's initial state: the state the log implies."""
    state = projection.initial()
    for record in records:
        state = projection.fold(state, record)
    return state


class CheckpointStore(Protocol):
    """Where a runner keeps its encoded checkpoint; ``save`` must replace the old one atomically."""

    async def load(self) -> bytes | None: ...

    async def save(self, blob: bytes) -> None: ...


class StoredCheckpoint:
    """A checkpoint kept under ``key`` in the store's snapshots, beside the events it summarises."""

    def __init__(self, snapshots: SnapshotStore, key: str) -> None:
        self.snapshots = snapshots
        self.key = key

    async def load(self) -> bytes | None:
        return await self.snapshots.load_snapshot(self.key)

    async def save(self, blob: bytes) -> None:
        await self.snapshots.save_snapshot(self.key, blob)


class StateEncoding(Protocol[S]):
    """How a state is written to a checkpoint and read back (``core.state_codec.StateCodec``)."""

    @property
    def fingerprint(self) -> str: ...

    def encode(self, state: S) -> bytes: ...

    def decode(self, blob: bytes) -> S: ...


class MemoryCheckpoint:
    """A checkpoint that lives as long as this object (tests, or a runner restarted in-process)."""

    def __init__(self) -> None:
        self.blob: bytes | None = None

    async def load(self) -> bytes | None:
        await trio.lowlevel.checkpoint()
        return self.blob

    async def save(self, blob: bytes) -> None:
        await trio.lowlevel.checkpoint()
        self.blob = blob


class FileCheckpoint:
    """A checkpoint file, replaced atomically (write a temp file, fsync, rename, fsync the directory)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    async def load(self) -> bytes | None:
        return await trio.to_thread.run_sync(self._load)

    async def save(self, blob: bytes) -> None:
        await trio.to_thread.run_sync(self._save, blob)

    def _load(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _save(self, blob: bytes) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".checkpoint-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self.path)
        except BaseException:
            os.unlink(temp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


COST_SHARE = 10.0
"""Real time between two count-based checkpoints, in units of the last encoding's time."""

CHECKPOINT_RETRY = 60.0
"""Seconds before a count-based checkpoint is tried again after one failed."""


class ProjectionRunner(Generic[S]):
    """Runs one projection live over a store. Start :meth:`run` in a nursery.

    It folds whatever the follower has at hand in one pass (a whole commit, under load), and saves a
    checkpoint after the pass that brings it ``checkpoint_every`` or more records past the last one,
    every ``checkpoint_interval`` seconds while there is something new (when given), and on the way
    out. A kill between checkpoints loses nothing: the next start folds the tail after the last one.

    Encoding a large state takes a while, and while catching up on a long log the records come far
    faster than they do live: a count-based checkpoint waits until at least :data:`COST_SHARE` times
    the last encoding's time has passed since the last one, so checkpoints never take more than about
    a tenth of the runner's time (without this, refolding 10^6 events spent most of its time encoding).
    """

    def __init__(
        self,
        projection: Projection[S],
        store: EventStore,
        *,
        checkpoint: CheckpointStore | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: float | None = None,
        encoding: StateEncoding[S] | None = None,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
        if checkpoint_interval is not None and checkpoint_interval <= 0:
            raise ValueError(f"checkpoint_interval must be > 0, got {checkpoint_interval}")
        self.projection = projection
        self.state: S = projection.initial()
        self.position = 0
        self.restored_from = 0
        """The position of the checkpoint this run resumed from (0: it folded the log from the start)."""
        self.checkpoint_position = 0
        """The position of the last checkpoint saved or resumed from."""
        self._store = store
        self._checkpoint = checkpoint
        self._checkpoint_every = checkpoint_every
        self._checkpoint_interval = checkpoint_interval
        self._encoding = encoding
        self._saving = trio.Lock()
        self._encoded_in = 0.0  # seconds the last checkpoint took to encode
        self._saved_at = -math.inf  # time.perf_counter() when the last checkpoint was saved
        self._advanced = CommitSignal()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Restore from the checkpoint, then fold every new record; saves a checkpoint on the way out."""
        await self._restore()
        if self._checkpoint is not None:
            self._encode()  # a state the codec refuses fails at start, not at the first checkpoint
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                if self._checkpoint is not None and self._checkpoint_interval is not None:
                    nursery.start_soon(self._save_periodically, self._checkpoint_interval)
                await self._follow()
        finally:
            with trio.CancelScope(shield=True):
                await self._save_quietly()

    async def _follow(self) -> None:
        follower = self._store.follow(self.position)
        while True:
            for record in await follower.next_batch():
                self.state = self.projection.fold(self.state, record)
                self.position = record.position
            self._advanced.pulse()
            if self.position - self.checkpoint_position >= self._checkpoint_every and (
                time.perf_counter() - self._saved_at >= COST_SHARE * self._encoded_in
            ):
                await self._save_quietly()

    async def _save_periodically(self, interval: float) -> None:
        while True:
            await trio.sleep(interval)
            await self._save_quietly()

    async def _save_quietly(self) -> None:
        """Save a checkpoint; one that fails (a store error, a state the encoding refuses) is logged and
        tried again after :data:`CHECKPOINT_RETRY` seconds: a checkpoint only saves work, and the
        runner must go on folding without it."""
        try:
            await self.save_checkpoint()
        except Exception as e:
            log.warning(
                "projection %s: checkpoint not saved (%r); retrying in %g s",
                self.projection.name,
                e,
                CHECKPOINT_RETRY,
            )
            self._saved_at = time.perf_counter() + CHECKPOINT_RETRY

    async def wait_for(self, position: int) -> None:
        """Return once every record up to ``position`` is folded into ``state``."""
        while self.position < position:
            await self._advanced.current().wait()
        await trio.lowlevel.checkpoint()

    async def save_checkpoint(self) -> None:
        """Save position and state now (no-op without a checkpoint store or with nothing new)."""
        if self._checkpoint is None:
            return
        async with self._saving:
            if self.position == self.checkpoint_position:
                return
            started = time.perf_counter()
            position, blob = self.position, self._encode()  # no await between: state is at position
            self._encoded_in = time.perf_counter() - started
            await self._checkpoint.save(blob)
            self.checkpoint_position = position
            self._saved_at = time.perf_counter()

    def _encode(self) -> bytes:
        try:
            state: Any = self.state if self._encoding is None else self._encoding.encode(self.state)
            return pack(
                {
                    "projection": self.projection.name,
                    "format": None if self._encoding is None else self._encoding.fingerprint,
                    "position": self.position,
                    "state": state,
                }
            )
        except (TypeError, ValueError) as e:
            raise TypeError(f"projection {self.projection.name!r} state cannot be checkpointed: {e}") from e

    async def _restore(self) -> None:
        if self._checkpoint is None:
            return
        blob = await self._checkpoint.load()
        if blob is None:
            return
        name = self.projection.name
        fingerprint = None if self._encoding is None else self._encoding.fingerprint
        try:
            saved = unpack(blob)
            position, state = saved["position"], saved["state"]
            if saved["projection"] != name or not isinstance(position, int) or position < 0:
                raise ValueError(f"checkpoint is for {saved['projection']!r} at {position!r}")
            if saved.get("format") != fingerprint:
                raise ValueError(f"format {saved.get('format')!r}, this build's is {fingerprint!r}")
            if self._encoding is not None:
                state = self._encoding.decode(state)
        except Exception as e:  # whatever is wrong with it, rebuilding from 0 is always correct
            log.warning("projection %s: ignoring checkpoint (%s); rebuilding from 0", name, e)
            return
        head = await self._store.head()
        if position > head:
            log.warning(
                "projection %s: checkpoint at %d is ahead of the log (head %d); rebuilding",
                name,
                position,
                head,
            )
            return
        self.state, self.position = state, position
        self.restored_from = self.checkpoint_position = position
        log.info("projection %s: resumed from the checkpoint at position %d of %d", name, position, head)
