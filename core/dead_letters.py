"""Dead letters: messages that could not be delivered, counted and logged, never silently lost.

Reasons are a small closed set so the counters can become metric labels with bounded cardinality.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter, deque
from dataclasses import dataclass

logger = logging.getLogger("chargeward.dead_letters")


class Reason(enum.Enum):
    """Why a message became a dead letter."""

    STOPPED = "stopped"  # sent to, or still queued at, an actor that stopped for good
    FULL = "full"  # mailbox full under the dead-letter overflow policy
    DROPPED = "dropped"  # oldest message pushed out under the drop-oldest policy
    LATE_REPLY = "late_reply"  # a reply to an ask whose caller had already given up


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One undeliverable message and where it was going."""

    kind: str
    name: str
    reason: Reason
    message: object


class DeadLetters:
    """Counts dead letters per actor kind and reason and keeps the most recent ones for inspection.

    Logging is throttled to the 1st, 2nd, 4th, 8th, ... occurrence per (kind, reason) so a flood of
    dropped samples cannot flood the log, while the count stays exact.
    """

    def __init__(self, keep: int = 100) -> None:
        self.counts: Counter[tuple[str, Reason]] = Counter()
        self.recent: deque[DeadLetter] = deque(maxlen=keep)

    def post(self, kind: str, name: str, reason: Reason, message: object) -> None:
        key = (kind, reason)
        self.counts[key] += 1
        n = self.counts[key]
        self.recent.append(DeadLetter(kind, name, reason, message))
        if n & (n - 1) == 0:
            logger.warning(
                "dead letter #%d for %s actors (%s): %s to %s",
                n,
                kind,
                reason.value,
                type(message).__name__,
                name,
            )

    def total(self) -> int:
        return sum(self.counts.values())
