"""Injected time.

Actors and supervisors never read the system clock directly: they ask a :class:`Clock`. Monotonic time
comes from trio, so ``trio.testing.MockClock`` drives it in tests; wall time is separate because event
records carry real timestamps while timeouts and intensity windows must not jump with NTP.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import trio


class Clock(Protocol):
    """Where actors get the time from."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (timeouts, intervals, restart windows)."""
        ...

    def wall(self) -> datetime:
        """The current tz-aware UTC wall time (event timestamps)."""
        ...


class TrioClock:
    """Production clock: trio's monotonic clock and the system's wall clock."""

    def monotonic(self) -> float:
        return trio.current_time()

    def wall(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """Wall time that advances with trio's clock from a fixed origin.

    Under ``MockClock`` both readings are deterministic, which makes actor output reproducible:
    the basis for replaying a recorded log through a new build and diffing the results.
    """

    def __init__(self, origin: datetime) -> None:
        if origin.tzinfo is None:
            raise ValueError("VirtualClock needs a tz-aware origin")
        self._origin = origin
        self._start = trio.current_time()

    def monotonic(self) -> float:
        return trio.current_time()

    def wall(self) -> datetime:
        return self._origin + timedelta(seconds=trio.current_time() - self._start)
