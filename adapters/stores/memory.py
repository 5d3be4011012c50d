"""The ``memory://`` backend: the library's POPO recorder, for tests and throwaway runs.

``eventsourcing.popo``'s factory always builds the plain ``POPOApplicationRecorder``, which cannot
read one stream with positions; ``MemoryFactory`` builds ``MemoryRecorder`` (the same recorder plus
``select_stream``) and is named as the persistence topic. Its calls take a lock and never wait on
I/O, so they run inline on the trio thread instead of in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, Notification
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from adapters.stores.recording import RecordedLog, RecordMapper
from core.codec import MsgpackTranscoder

__all__ = ["MemoryFactory", "MemoryRecorder", "open_log"]


class MemoryRecorder(POPOApplicationRecorder):
    """``POPOApplicationRecorder`` plus ``select_stream`` (one stream, with notification ids)."""

    def select_stream(self, originator_id: UUID, gt: int, limit: int | None) -> Sequence[Notification]:
        with self._database_lock:
            index = self._stored_events_index.get(str(originator_id), {})
            rows = []
            for version in sorted(v for v in index if v > gt):
                stored = self._stored_events[index[version]]
                rows.append(
                    Notification(
                        id=index[version] + 1,
                        originator_id=stored.originator_id,
                        originator_version=stored.originator_version,
                        topic=stored.topic,
                        state=stored.state,
                    )
                )
                if len(rows) == limit:
                    break
            return rows


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
