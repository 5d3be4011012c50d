"""Events of a node's stream (``node/<name>``): its own bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from actors.events.registry import Event, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionIdsReserved(Event):
    """The node reserved transaction ids ``first``..``last`` (inclusive) for allocation."""

    TYPE: ClassVar[str] = "TransactionIdsReserved"
    first: int
    last: int
