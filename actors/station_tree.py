"""One station's supervision subtree, and what happens when it gives up.

Each station gets its own supervisor (``rest_for_one``): the station actor first, then its connector
actors, so a station actor's restart also restarts the connector actors that follow its stream, and
a connector actor's restart touches nothing before it. The subtree has its own restart intensity and
exponential backoff (``FleetPolicy.station_*``). It runs as a *temporary* child of the fleet's
"stations" supervisor: when a station keeps crashing its subtree gives up and ends, the stations
supervisor does not restart it and counts nothing, so no single station can escalate past it.

Giving up is reported, never silent (:class:`StationFailures`): the connection is closed with code
1013 ("try again later") and a reason, ``StationDisconnected`` and ``StationFailed`` {reason,
restarts, retry_after} are appended to the station's stream, and the station is refused at the
WebSocket upgrade (HTTP 503) until ``retry_after`` seconds have passed. Each further failure doubles
``retry_after`` up to ``station_retry_max``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from actors.events import Event, new_events
from actors.events.station import StationDisconnected, StationFailed
from actors.ocpp_stats import OcppStats
from actors.policy import FleetPolicy
from actors.station import LineSlot
from actors.station_state import StationState
from core.clock import Clock
from core.mailbox import Mailbox
from core.store import EventStore
from core.supervisor import Backoff, Escalation, Runtime, Strategy, Supervisor

logger = logging.getLogger("chargeward.fleet")

TRY_AGAIN_LATER = 1013  # WebSocket close code: the server cannot serve this peer for now


class StationTree:
    """A station's supervisor as a child of the stations supervisor; see the module docstring."""

    def __init__(
        self,
        station_id: str,
        runtime: Runtime,
        policy: FleetPolicy,
        on_failure: Callable[[str, Escalation], Awaitable[None]],
    ) -> None:
        self.station_id = station_id
        self.on_failure = on_failure
        self.supervisor = Supervisor(
            "station",  # one label for every station's supervisor: metrics stay bounded
            runtime,
            strategy=Strategy.REST_FOR_ONE,
            intensity=policy.station_intensity,
            period=policy.station_period,
            backoff=Backoff(first=policy.station_backoff, ceiling=policy.station_backoff_max),
        )

    async def run(self, inbox: Mailbox[Any]) -> None:
        try:
            await self.supervisor.run(inbox)
        except Escalation as escalation:
            await self.on_failure(self.station_id, escalation)


@dataclass(slots=True)
class Failure:
    """A station's latest failure: when it may connect again, and the wait it was given."""

    retry_after: float
    until: float  # clock.monotonic() from which the station may connect again
    count: int


class StationFailures:
    """Records stations whose subtree gave up, and refuses them until their retry time."""

    def __init__(self, store: EventStore, clock: Clock, policy: FleetPolicy, stats: OcppStats) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.stats = stats
        self._failures: dict[str, Failure] = {}

    def refused_for(self, station_id: str) -> float | None:
        """Seconds the station must still wait before connecting again, or None when it may."""
        failure = self._failures.get(station_id)
        if failure is None:
            return None
        left = failure.until - self.clock.monotonic()
        return left if left > 0 else None

    async def record(self, station_id: str, escalation: Escalation, slot: LineSlot) -> None:
        """Log the failure, close the station's connection with the reason, refuse it for a while."""
        previous = self._failures.get(station_id)
        retry_after = (
            self.policy.station_retry_after
            if previous is None
            else min(previous.retry_after * 2, self.policy.station_retry_max)
        )
        self._failures[station_id] = Failure(
            retry_after, self.clock.monotonic() + retry_after, (previous.count if previous else 0) + 1
        )
        self.stats.station_failures += 1
        reason = _describe(escalation)
        logger.error(
            "station %s stopped after %d restarts (%s); refused for %s s",
            station_id,
            escalation.restarts,
            reason,
            retry_after,
        )
        line, slot.line = slot.line, None
        try:
            stream = f"station/{station_id}"
            state = StationState()
            state.apply_all(await self.store.read_stream(stream))
            events: list[Event] = []
            if state.current_connection is not None:
                events.append(StationDisconnected(conn=state.current_connection, reason="station failed"))
            events.append(
                StationFailed(reason=reason[:500], restarts=escalation.restarts, retry_after=retry_after)
            )
            await self.store.append(
                new_events(stream, events, self.clock.wall()), expected={stream: state.version}
            )
        finally:
            if line is not None:
                await line.close(f"station failed; retry after {retry_after:g} s", code=TRY_AGAIN_LATER)


def _describe(escalation: Escalation) -> str:
    """The last failure's type and message, out of the nursery's exception group around it."""
    cause = escalation.cause
    while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
        cause = cause.exceptions[0]
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(escalation)
