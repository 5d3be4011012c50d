"""Event records: what an appender hands to the store and what the store hands back.

``NewEvent`` is an event not yet stored: the appender supplies its wall-clock ``time`` from its
injected clock, so replays and tests are deterministic. ``EventRecord`` is a committed event with
its per-stream ``sequence`` (1-based, contiguous) and its global ``position`` (1-based, strictly
increasing in commit order). Both are frozen: a record is a fact and never changes.

``decoded`` is opaque to the store: what the appender's layer decodes ``data`` to (``actors.events``:
the typed events), passed from the ``NewEvent`` to the records the writer hands to this process's
readers, so the station, the live projection and the indexes do not decode again what was encoded
a moment before. Records read back from the log have none; it takes no part in equality.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["EventRecord", "NewEvent", "check_stream"]

# ``<kind>/<id>``: station/CP-1, meter/grid, site/depot-3, node/a. The kind is a lowercase word so
# stream ids sort and group by kind; the id is anything non-empty.
_STREAM = re.compile(r"[a-z][a-z0-9_-]*/\S.*")


def check_stream(stream: object) -> str:
    """Return ``stream`` if it is a well-formed stream id, else raise a ValueError saying why."""
    if stream in _GOOD_STREAMS:
        return stream
    if not isinstance(stream, str) or not _STREAM.fullmatch(stream):
        raise ValueError(f"stream id must look like '<kind>/<id>' (e.g. 'station/CP-1'), got {stream!r}")
    if len(_GOOD_STREAMS) < _GOOD_STREAMS_MAX:
        _GOOD_STREAMS.add(stream)
    return stream


# Stream ids already checked: every event of a station repeats its stream id, and the regex runs
# on the hot path of every append otherwise. Bounded so a flood of new ids cannot grow it forever.
_GOOD_STREAMS: set[str] = set()
_GOOD_STREAMS_MAX = 100_000


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: which stream, what type, its payload and when it happened (tz-aware)."""

    stream: str
    type: str
    data: Mapping[str, Any]
    time: datetime
    decoded: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_stream(self.stream)
        if not isinstance(self.type, str) or not self.type:
            raise ValueError(f"event type must be a non-empty string, got {self.type!r}")
        if not isinstance(self.data, Mapping):
            raise TypeError(f"event data must be a mapping, got {type(self.data).__qualname__}")
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise TypeError(f"event time must be a tz-aware datetime, got {self.time!r}")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A committed event: ``sequence`` within its stream, ``position`` in the global log."""

    stream: str
    sequence: int
    position: int
    type: str
    time: datetime
    data: Mapping[str, Any]
    decoded: Any = field(default=None, compare=False, repr=False)
