"""Following the committed log: catch up from a position, then stay live.

A ``Follower`` reads pages by global position and remembers the last position it handed out, so each
event comes exactly once and in order. When caught up it sleeps on the ``CommitSignal`` that the
store's writer pulses after every in-process commit (no polling latency). For commits of other
processes it wakes every ``poll_interval`` seconds (SQLite has no subscriptions), or, where the
backend hears of them (PostgreSQL's LISTEN/NOTIFY), when the backend pulses ``elsewhere``. A read
that could not reach the store (``ReadFailed``) is tried again after a pause, so a database restart
delays followers instead of ending them.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable

import trio

from core.events import EventRecord
from core.store import ReadFailed

__all__ = ["CommitSignal", "Follower", "RecentCommits"]

logger = logging.getLogger("chargeward")

_RETRY_MAX = 5.0  # seconds between tries of a read that failed, at most


class CommitSignal:
    """A pulse per commit. Take ``current()`` *before* reading, then wait on it: no wakeup is lost."""

    def __init__(self) -> None:
        self._event = trio.Event()
        self.elsewhere = 0
        """How many times another process was heard committing (or may have: a listener reconnected)."""

    def current(self) -> trio.Event:
        return self._event

    def pulse(self) -> None:
        self._event.set()
        self._event = trio.Event()

    def pulse_elsewhere(self) -> None:
        """Another process committed: wake followers and make them read the store, not the cache."""
        self.elsewhere += 1
        self.pulse()


class RecentCommits:
    """The last ``keep`` records this process committed, by position.

    In-process followers take new records from here instead of reading back from the database what
    the writer has just written (a noticeable share of the server's busy time under load; see
    bench/results/README.md). Only a contiguous run from the follower's position is served; a gap
    (another process committed in between) or a follower further behind than ``keep`` reads from the
    store as before.
    """

    def __init__(self, keep: int = 4096) -> None:
        self._keep = keep
        self._by_position: dict[int, EventRecord] = {}
        self._order: deque[int] = deque()
        self.newest = 0
        """The highest position this process has committed (0: none yet)."""

    def add(self, records: list[EventRecord]) -> None:
        """Keep ``records`` (one commit's, in position order) and drop the oldest beyond ``keep``."""
        if not records:
            return
        by_position = {record.position: record for record in records}
        self._by_position.update(by_position)
        self._order.extend(by_position)
        self.newest = max(self.newest, records[-1].position)
        order, kept = self._order, self._by_position
        for _ in range(len(order) - self._keep):
            del kept[order.popleft()]

    def after(self, position: int, limit: int) -> list[EventRecord]:
        """Records ``position + 1``, ``position + 2``, ... while present, at most ``limit``."""
        out: list[EventRecord] = []
        found = self._by_position.get(position + 1)
        while found is not None and len(out) < limit:
            out.append(found)
            found = self._by_position.get(found.position + 1)
        return out


class Follower:
    """An async iterator over every event after ``after``; it never ends by itself."""

    def __init__(
        self,
        read_all: Callable[[int, int], Awaitable[list[EventRecord]]],
        signal: CommitSignal,
        *,
        after: int = 0,
        poll_interval: float | None = None,
        page: int = 500,
        recent: RecentCommits | None = None,
    ) -> None:
        if after < 0:
            raise ValueError(f"follow position must be >= 0, got {after}")
        self._read_all = read_all
        self._signal = signal
        self._poll_interval = poll_interval
        self._page = page
        self._recent = recent
        self._buffer: deque[EventRecord] = deque()
        self.position = after

    def __aiter__(self) -> Follower:
        return self

    async def __anext__(self) -> EventRecord:
        await self._ready()
        record = self._buffer.popleft()
        self.position = record.position
        return record

    async def next_batch(self) -> list[EventRecord]:
        """Every record at hand (at least one, at most a page), waiting for one if there is none.

        A projection folds a whole commit per scheduling pass this way, instead of yielding to trio
        once per record: under load a commit carries many records (bench/results/README.md).
        """
        await self._ready()
        batch = list(self._buffer)
        self._buffer.clear()
        self.position = batch[-1].position
        return batch

    async def _ready(self) -> None:
        """Return with at least one record buffered, having been through a schedule point."""
        if self._buffer:
            await trio.lowlevel.checkpoint()
        else:
            await self._fill()

    async def _fill(self) -> None:
        """Wait until the buffer holds at least one record after ``position``.

        A follower at the newest position this process committed does not ask the store for more:
        nothing newer can come from here without a pulse, and other processes' commits are what the
        poll (or a pulse from elsewhere) is for. (That read used to happen every time a follower
        caught up: once per commit.)
        """
        polled = False
        failures = 0
        while not self._buffer:
            wake = self._signal.current()
            elsewhere = self._signal.elsewhere
            page = self._recent.after(self.position, self._page) if self._recent is not None else []
            if not page and (polled or not self._at_recent_head()):
                try:
                    page = await self._read_all(self.position, self._page)
                except ReadFailed as error:  # the store is out of reach for now: the same read again
                    failures += 1
                    if failures == 1:
                        logger.warning("follower at %d: %s; trying again", self.position, error)
                    await trio.sleep(min(0.1 * 2**failures, _RETRY_MAX))
                    continue
            if page:
                self._buffer.extend(page)
                return
            if self._poll_interval is None:
                await wake.wait()
                polled = self._signal.elsewhere != elsewhere
            else:
                with trio.move_on_after(self._poll_interval) as poll:
                    await wake.wait()
                polled = poll.cancelled_caught or self._signal.elsewhere != elsewhere

    def _at_recent_head(self) -> bool:
        return self._recent is not None and self.position == self._recent.newest > 0
