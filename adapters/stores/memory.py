"""The ``memory://`` backend: the library's POPO recorder, for tests and throwaway runs.

``eventsourcing.popo``'s factory always builds the plain ``POPOApplicationRecorder``, which cannot
read one stream with positions; ``MemoryFactory`` builds ``MemoryRecorder`` (the same recorder,
storing runs of events as the SQLite one does, plus ``select_stream``) and is named as the
persistence topic. Its calls take a lock and never wait on I/O, so they run inline on the trio
thread instead of in a worker thread.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, Notification, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from adapters.stores.recording import RecordedLog, RecordMapper
from core.codec import MsgpackTranscoder

__all__ = ["MemoryFactory", "MemoryRecorder", "open_log"]


class MemoryRecorder(POPOApplicationRecorder):
    """``POPOApplicationRecorder`` whose rows hold runs of events, plus ``select_stream``.

    As in SQLite, ``insert_events`` takes ``sizes`` (events per row) and numbers each row with the
    position of its last event, leaving the positions of the run's other events unused by rows.
    """

    def __init__(self) -> None:
        super().__init__()
        self._ids: list[int] = []  # notification id of each row, parallel to self._stored_events

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, sizes: Sequence[int] | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        with self._database_lock:
            self._assert_uniqueness(stored_events, **kwargs)
            head = self._ids[-1] if self._ids else 0
            ids = []
            for stored, size in zip(stored_events, sizes or [1] * len(stored_events), strict=True):
                head += size
                self._stored_events.append(stored)
                self._stored_events_index[str(stored.originator_id)][stored.originator_version] = len(
                    self._ids
                )
                self._ids.append(head)
                ids.append(head)
        self._notify_listeners()
        return ids

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        with self._database_lock:
            first = (
                0
                if start is None
                else (bisect_left if inclusive_of_start else bisect_right)(self._ids, start)
            )
            rows = []
            for i in range(first, len(self._ids)):
                if stop is not None and self._ids[i] > stop:
                    break
                if topics and self._stored_events[i].topic not in topics:
                    continue
                rows.append(self._notification(i))
                if len(rows) == limit:
                    break
            return rows

    def max_notification_id(self) -> int | None:
        with self._database_lock:
            return self._ids[-1] if self._ids else None

    def select_stream(self, originator_id: UUID, gt: int, limit: int | None) -> Sequence[Notification]:
        with self._database_lock:
            index = self._stored_events_index.get(str(originator_id), {})
            versions = sorted(index)
            # From the row holding sequence gt + 1: the last one that starts at or before it.
            start = max(bisect_right(versions, gt + 1) - 1, 0)
            rows = [self._notification(index[version]) for version in versions[start:]]
            return rows if limit is None else rows[:limit]

    def _notification(self, i: int) -> Notification:
        stored = self._stored_events[i]
        return Notification(
            id=self._ids[i],
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=stored.state,
        )


class MemoryFactory(POPOFactory):
    """``POPOFactory`` whose application recorder is a ``MemoryRecorder``."""

    def application_recorder(self) -> ApplicationRecorder:
        return MemoryRecorder()


def open_log(url: str, poll_interval: float) -> RecordedLog:
    """Open ``memory://``: a fresh, empty log that lives as long as the store."""
    if url != "memory://":
        raise ValueError(f"the memory backend takes exactly 'memory://', got {url!r}")
    factory = InfrastructureFactory.construct({"PERSISTENCE_MODULE": f"{__name__}:MemoryFactory"})
    recorder = factory.application_recorder()
    assert isinstance(recorder, MemoryRecorder)
    mapper = factory.mapper(transcoder=MsgpackTranscoder(), mapper_class=RecordMapper)
    assert isinstance(mapper, RecordMapper)
    # Every commit happens in this process, so followers are woken by the writer and never poll.
    return RecordedLog(recorder, mapper, location=url, offload=False, poll_interval=None, close=factory.close)
