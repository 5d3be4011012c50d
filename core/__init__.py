"""chargeward's domain-free kernel: actors, supervision, clock, event records, the store port, projections.

Nothing here knows OCPP, Modbus or any backend; adapters plug the store in (``adapters.stores``).
The public surface, re-exported explicitly:
"""

from core.actor import Actor, ActorBusy, ActorRef, ActorStopped, AskTimeout, Reply
from core.clock import Clock, TrioClock, VirtualClock
from core.codec import MsgpackTranscoder, pack, unpack
from core.dead_letters import DeadLetter, DeadLetters, Reason
from core.events import EventRecord, NewEvent, check_stream
from core.mailbox import Mailbox, MailboxClosed, Overflow
from core.projection import (
    CheckpointStore,
    FileCheckpoint,
    MemoryCheckpoint,
    Projection,
    ProjectionRunner,
    StoredCheckpoint,
    replay,
)
from core.stats import DepthSummary, RuntimeStats
from core.store import (
    CommitFailed,
    ConcurrencyConflict,
    CorruptEvent,
    EventStore,
    NotOwner,
    SnapshotStore,
    StoreClosed,
    StoreError,
    StoreUnavailable,
)
from core.supervisor import (
    Backoff,
    ChildSpec,
    DuplicateChild,
    Escalation,
    Restart,
    Runtime,
    Strategy,
    Supervisor,
    open_supervisor,
)
from core.writer import WriterStats

__all__ = [
    "Actor",
    "ActorBusy",
    "ActorRef",
    "ActorStopped",
    "AskTimeout",
    "Backoff",
    "CheckpointStore",
    "ChildSpec",
    "Clock",
    "CommitFailed",
    "ConcurrencyConflict",
    "CorruptEvent",
    "DeadLetter",
    "DeadLetters",
    "DepthSummary",
    "DuplicateChild",
    "Escalation",
    "EventRecord",
    "EventStore",
    "FileCheckpoint",
    "Mailbox",
    "MailboxClosed",
    "MemoryCheckpoint",
    "MsgpackTranscoder",
    "NewEvent",
    "NotOwner",
    "Overflow",
    "Projection",
    "ProjectionRunner",
    "Reason",
    "Reply",
    "Restart",
    "Runtime",
    "RuntimeStats",
    "SnapshotStore",
    "StoreClosed",
    "StoreError",
    "StoreUnavailable",
    "StoredCheckpoint",
    "Strategy",
    "Supervisor",
    "TrioClock",
    "VirtualClock",
    "WriterStats",
    "check_stream",
    "open_supervisor",
    "pack",
    "replay",
    "unpack",
]
