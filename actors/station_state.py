"""The state a station actor decides from, folded from its own stream.

Kept deliberately small: what the next decision needs (boot status, vendor, open transactions,
the last few stopped ones, connector statuses, the connectors named so far, the connection
counter). The richer read model for operators lives in
``projections.live``. The fold mutates in place because it runs on the hot path of every frame;
a restarted actor gets the same state by folding its stream from the start.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from actors import event_types as ev
from core.events import EventRecord

RECENTLY_STOPPED = 32  # per station: repeats come within seconds, a few messages apart


@dataclass(slots=True)
class OpenTransaction:
    transaction_id: int
    connector: int
    id_tag: str
    meter_start_wh: float


@dataclass(slots=True)
class StationState:
    """What a station actor knows about its station."""

    version: int = 0  # last sequence folded from the station's stream
    connections: int = 0  # connection numbers handed out so far
    current_connection: int | None = None
    boot_status: str | None = None
    vendor: str | None = None
    model: str | None = None
    connector_status: dict[int, str] = field(default_factory=dict)
    transactions: dict[int, OpenTransaction] = field(default_factory=dict)
    # The last stopped transaction ids, so a repeated StopTransaction is known for what it is.
    recently_stopped: deque[int] = field(default_factory=lambda: deque(maxlen=RECENTLY_STOPPED))
    connectors: set[int] = field(default_factory=set)  # every connector > 0 an event has named

    def apply(self, record: EventRecord) -> None:
        self.version = record.sequence
        connector = record.data.get("connector")
        if isinstance(connector, int) and connector > 0:
            self.connectors.add(connector)
        handler = _FOLDS.get(record.type)
        if handler is not None:
            handler(self, record.data)

    def apply_all(self, records: Iterable[EventRecord]) -> None:
        for record in records:
            self.apply(record)

    def open_transaction_on(self, connector: int) -> OpenTransaction | None:
        for tx in self.transactions.values():
            if tx.connector == connector:
                return tx
        return None


def _connected(state: StationState, data: Any) -> None:
    state.connections = max(state.connections, int(data["conn"]))
    state.current_connection = int(data["conn"])


def _disconnected(state: StationState, data: Any) -> None:
    if state.current_connection == data["conn"]:
        state.current_connection = None


def _booted(state: StationState, data: Any) -> None:
    state.boot_status = data["status"]
    state.vendor = data.get("vendor")
    state.model = data.get("model")


def _status(state: StationState, data: Any) -> None:
    state.connector_status[int(data["connector"])] = data["status"]


def _started(state: StationState, data: Any) -> None:
    tx = OpenTransaction(
        int(data["transaction_id"]), int(data["connector"]), data["id_tag"], float(data["meter_start_wh"])
    )
    state.transactions[tx.transaction_id] = tx


def _stopped(state: StationState, data: Any) -> None:
    tx_id = int(data["transaction_id"])
    if state.transactions.pop(tx_id, None) is not None:
        state.recently_stopped.append(tx_id)


_FOLDS = {
    ev.STATION_CONNECTED: _connected,
    ev.STATION_DISCONNECTED: _disconnected,
    ev.STATION_BOOTED: _booted,
    ev.CONNECTOR_STATUS_CHANGED: _status,
    ev.TRANSACTION_STARTED: _started,
    ev.TRANSACTION_STOPPED: _stopped,
}
