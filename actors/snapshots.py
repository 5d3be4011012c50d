"""Actor snapshots: an actor's state saved in the store, so a restart folds only its stream's tail.

A station actor (and a connector actor) rebuilds from its stream when it starts, and a station's
stream holds every frame it ever sent. ``StreamSnapshots`` keeps the actor's state under a key in
the store's snapshots (``core.store.SnapshotStore``) with the stream sequence it was folded up to;
:meth:`StreamSnapshots.restore` gives it back only if it was written by this build for this shape
(``core.state_codec``) and is not ahead of the stream, and otherwise logs why and returns None, so
the actor folds from the start. A snapshot only saves work: a missing, foreign or failed one costs a
longer fold, never a different state, and a save that fails is logged and forgotten.
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

import trio

from core.codec import pack, unpack
from core.state_codec import StateCodec
from core.store import EventStore, SnapshotStore

__all__ = ["SNAPSHOT_EVERY", "StreamSnapshots"]

T = TypeVar("T")
logger = logging.getLogger("chargeward.snapshots")

SNAPSHOT_EVERY = 200
"""Records of its stream an actor folds between two snapshots."""


class StreamSnapshots(Generic[T]):
    """The snapshot of one actor's state, folded from ``stream`` up to a sequence."""

    def __init__(self, store: EventStore, key: str, stream: str, codec: StateCodec[T]) -> None:
        self._events = store
        self.store: SnapshotStore | None = store if isinstance(store, SnapshotStore) else None
        self.key = key
        self.stream = stream
        self.codec = codec
        self.sequence = 0
        """The sequence of the last snapshot saved or restored (0: none)."""

    async def restore(self) -> tuple[T, int] | None:
        """The saved state and its sequence, or None (none saved, foreign, or ahead of the stream)."""
        if self.store is None:
            return None
        blob = await self.store.load_snapshot(self.key)
        if blob is None:
            return None
        try:
            saved = unpack(blob)
            if saved["format"] != self.codec.fingerprint:
                raise ValueError(f"format {saved['format']!r}, this build's is {self.codec.fingerprint!r}")
            sequence = saved["sequence"]
            if not isinstance(sequence, int) or sequence < 0:
                raise ValueError(f"bad sequence {sequence!r}")
            state = self.codec.decode(saved["state"])
        except Exception as e:  # whatever is wrong with it, folding the whole stream is correct
            logger.warning("%s: ignoring snapshot (%s); folding the whole stream", self.key, e)
            return None
        version = await self._events.stream_version(self.stream)
        if sequence > version:
            logger.warning(
                "%s: snapshot at %d is ahead of the stream (%d); ignoring it", self.key, sequence, version
            )
            return None
        self.sequence = sequence
        logger.debug("%s: restored from the snapshot at sequence %d of %d", self.key, sequence, version)
        return state, sequence

    def due(self, sequence: int) -> bool:
        """Whether the state at ``sequence`` is far enough past the last snapshot to save one."""
        return self.store is not None and sequence - self.sequence >= SNAPSHOT_EVERY

    async def save(self, state: T, sequence: int) -> None:
        """Save ``state`` (folded up to ``sequence``); a failure is logged, not raised."""
        blob = self._encode(state, sequence)
        if blob is not None and await self._write(blob):
            self.sequence = sequence

    def save_soon(self, nursery: trio.Nursery, state: T, sequence: int) -> None:
        """Encode ``state`` (folded up to ``sequence``) now and write it in a task of ``nursery``.

        The station actor answers its station after this, so the answer does not wait for a store
        write (a transaction of its own, and an fsync, for one message in ``SNAPSHOT_EVERY``). The
        next snapshot is due ``SNAPSHOT_EVERY`` records on even if this write fails: a snapshot only
        saves work. Two writes of one key in flight may land out of order; the older snapshot left
        is still a correct one, of an earlier sequence.
        """
        blob = self._encode(state, sequence)
        if blob is not None:
            self.sequence = sequence
            nursery.start_soon(self._write, blob)

    def _encode(self, state: T, sequence: int) -> bytes | None:
        if self.store is None:
            return None
        try:
            return pack(
                {"format": self.codec.fingerprint, "sequence": sequence, "state": self.codec.encode(state)}
            )
        except Exception as e:  # a snapshot only saves work; the actor goes on without it
            logger.warning("%s: snapshot not saved (%r)", self.key, e)
            return None

    async def _write(self, blob: bytes) -> bool:
        assert self.store is not None
        try:
            await self.store.save_snapshot(self.key, blob)
        except Exception as e:  # a snapshot only saves work; the actor goes on without it
            logger.warning("%s: snapshot not saved (%r)", self.key, e)
            return False
        return True
