"""Counters of what crossed the OCPP connections, for the metrics exporter to read.

Plain counters keyed by small closed sets (action names, error codes, outcomes) or by vendor and
field for repairs, so label cardinality stays bounded. Latency goes to observers, so the exporter
can feed histograms without this layer knowing Prometheus: ``round_trip_observers`` hear the round
trip of each CSMS-initiated call, ``handling_observers`` the server-side handling time of each
station-initiated call (frame received to reply sent). ``outboxes`` holds each station actor's
outbox, so queued commands can be counted on read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from actors.outbox import Outbox

RoundTripObserver = Callable[[str, float], None]


@dataclass
class OcppStats:
    frames_in: Counter[tuple[str, str]] = field(default_factory=Counter)  # (action, result|error)
    frames_out: Counter[str] = field(default_factory=Counter)  # action of CSMS-initiated calls
    command_outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (action, outcome)
    call_errors: Counter[str] = field(default_factory=Counter)  # CALLERROR code we sent
    repairs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (vendor, field path)
    late_replies: int = 0
    repeated_calls: int = 0
    stale_frames: int = 0
    station_failures: int = 0  # station subtrees that gave up (actors.station_tree)
    round_trip_observers: list[RoundTripObserver] = field(default_factory=list)
    handling_observers: list[RoundTripObserver] = field(default_factory=list)
    outboxes: dict[str, Outbox] = field(default_factory=dict)  # by station id, the live actor's

    def observe_round_trip(self, action: str, seconds: float) -> None:
        for observer in self.round_trip_observers:
            observer(action, seconds)

    def observe_handling(self, action: str, seconds: float) -> None:
        for observer in self.handling_observers:
            observer(action, seconds)
