"""The state a station actor decides from, folded from its own stream.

Kept deliberately small: what the next decision needs (boot status, vendor, open transactions,
the last few stopped ones, connector statuses, the connectors named so far, the connection
counter). The richer read model for operators lives in
``projections.live``. The fold mutates in place because it runs on the hot path of every frame;
a restarted actor gets the same state from its snapshot (``actors.snapshots``) and the stream's tail,
or by folding its stream from the start.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from actors import desired_state
from actors.desired_state import DesiredState
from actors.events import Event, IdToken, TransactionId, events_of
from actors.events import registry as event_registry
from actors.events import station as station_events
from actors.events.station import (
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    StationDisconnected,
    TransactionEventReported,
    TransactionStarted,
    TransactionStopped,
)
from core.events import EventRecord
from core.state_codec import StateCodec

# Bump when the meaning of a snapshotted field changes without this module's source changing.
STATE_VERSION = 1

RECENTLY_STOPPED = 32  # per station: repeats come within seconds, a few messages apart


@dataclass(slots=True)
class OpenTransaction:
    transaction_id: TransactionId
    connector: int
    id_token: IdToken
    meter_start_wh: float


@dataclass(slots=True)
class StationState:
    """What a station actor knows about its station."""

    version: int = 0  # last sequence folded from the station's stream
    connections: int = 0  # connection numbers handed out so far
    current_connection: int | None = None
    subprotocol: str | None = None  # the last connection's: its OCPP version
    boot_status: str | None = None
    vendor: str | None = None
    model: str | None = None
    connector_status: dict[int, str] = field(default_factory=dict)
    transactions: dict[TransactionId, OpenTransaction] = field(default_factory=dict)
    # The last stopped transaction ids, so a repeated StopTransaction is known for what it is.
    # A list, not a deque(maxlen=...): a deque allocates a 64-slot block at once (~760 bytes per station,
    # most of which never stop a transaction while connected); this one stays at most 32 long.
    recently_stopped: list[TransactionId] = field(default_factory=list)
    connectors: set[int] = field(default_factory=set)  # every connector > 0 an event has named
    desired: DesiredState = field(default_factory=DesiredState)  # what reconciliation restores
    # 2.0.1: the seqNos recorded per transaction (open or recently stopped), so a retransmitted
    # TransactionEvent is known for what it is and a gap can be seen; and the last energy register.
    transaction_seq_nos: dict[TransactionId, list[int]] = field(default_factory=dict)
    transaction_energy: dict[TransactionId, float] = field(default_factory=dict)

    def apply(self, record: EventRecord) -> tuple[Event, ...]:
        """Fold a record of the station's stream; the events it held."""
        events = events_of(record)
        for event in events:
            self.fold(event)
        self.version = record.sequence
        return events

    def fold(self, event: Event) -> None:
        """Fold one event (``version`` is the record's business: see :meth:`apply`)."""
        connector = getattr(event, "connector", None)
        if isinstance(connector, int) and connector > 0:
            self.connectors.add(connector)
        handler = _FOLDS.get(type(event))
        if handler is not None:
            handler(self, event)
        desired_state.fold(self.desired, event)

    def apply_all(self, records: Iterable[EventRecord]) -> None:
        for record in records:
            self.apply(record)

    def open_transaction_on(self, connector: int) -> OpenTransaction | None:
        for tx in self.transactions.values():
            if tx.connector == connector:
                return tx
        return None


def _connected(state: StationState, event: StationConnected) -> None:
    state.connections = max(state.connections, event.conn)
    state.current_connection = event.conn
    state.subprotocol = event.subprotocol


def _disconnected(state: StationState, event: StationDisconnected) -> None:
    if state.current_connection == event.conn:
        state.current_connection = None


def _booted(state: StationState, event: StationBooted) -> None:
    state.boot_status = event.status
    state.vendor = event.vendor
    state.model = event.model


def _status(state: StationState, event: ConnectorStatusChanged) -> None:
    state.connector_status[event.connector] = event.status


def _started(state: StationState, event: TransactionStarted) -> None:
    tx = OpenTransaction(event.transaction_id, event.connector, event.id_token, float(event.meter_start_wh))
    state.transactions[tx.transaction_id] = tx


def _stopped(state: StationState, event: TransactionStopped) -> None:
    was_open = state.transactions.pop(event.transaction_id, None) is not None
    if was_open or event.transaction_id in state.transaction_seq_nos:  # 2.0.1: even one never started
        if len(state.recently_stopped) >= RECENTLY_STOPPED:
            forgotten = state.recently_stopped.pop(0)
            state.transaction_seq_nos.pop(forgotten, None)
            state.transaction_energy.pop(forgotten, None)
        state.recently_stopped.append(event.transaction_id)


def _transaction_event(state: StationState, event: TransactionEventReported) -> None:
    seen = state.transaction_seq_nos.setdefault(event.transaction_id, [])
    if event.seq_no not in seen:
        seen.append(event.seq_no)
    if event.energy_wh is not None:
        state.transaction_energy[event.transaction_id] = event.energy_wh


_FOLDS: dict[type[Event], Callable[[StationState, Any], None]] = {
    StationConnected: _connected,
    StationDisconnected: _disconnected,
    StationBooted: _booted,
    ConnectorStatusChanged: _status,
    TransactionStarted: _started,
    TransactionStopped: _stopped,
    TransactionEventReported: _transaction_event,
}


@functools.cache
def state_codec() -> StateCodec[StationState]:
    """How a station actor's state is snapshotted (``actors.snapshots``, ``core.state_codec``); one per
    process: its fingerprint reads the package metadata and hashes the folds' source (about 1 ms),
    which every station actor's start paid before (a third of the server's CPU in a boot storm)."""
    modules = (sys.modules[__name__], desired_state, station_events, event_registry)
    return StateCodec(
        StationState, (OpenTransaction, IdToken, DesiredState), version=STATE_VERSION, modules=modules
    )
