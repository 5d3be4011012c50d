"""Runtime statistics an exporter reads: mailbox depth, restarts and dead letters per actor kind.

Plain counters and a registry of live mailboxes; nothing here knows about Prometheus, so the
metrics adapter can render them however it likes without the core depending on it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from core.dead_letters import DeadLetters
from core.mailbox import Mailbox


@dataclass(frozen=True, slots=True)
class DepthSummary:
    """Mailbox depth across the live actors of one kind."""

    actors: int
    total: int
    deepest: int


class RuntimeStats:
    """Counters shared by every supervisor of one runtime."""

    def __init__(self, dead_letters: DeadLetters) -> None:
        self.dead_letters = dead_letters
        self.restarts: Counter[str] = Counter()
        self.escalations: Counter[str] = Counter()
        self._mailboxes: dict[int, Mailbox[Any]] = {}

    def track(self, mailbox: Mailbox[Any]) -> None:
        self._mailboxes[id(mailbox)] = mailbox

    def untrack(self, mailbox: Mailbox[Any]) -> None:
        self._mailboxes.pop(id(mailbox), None)

    def mailbox_depths(self) -> dict[str, DepthSummary]:
        """Depth per actor kind, computed on read so the hot path pays nothing for it."""
        acc: dict[str, list[int]] = {}
        for box in self._mailboxes.values():
            acc.setdefault(box.kind, []).append(box.depth)
        return {kind: DepthSummary(len(d), sum(d), max(d)) for kind, d in acc.items()}

    def dead_letters_by_kind(self) -> dict[tuple[str, str], int]:
        return {(kind, reason.value): n for (kind, reason), n in self.dead_letters.counts.items()}
