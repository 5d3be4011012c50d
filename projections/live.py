"""Live state of the fleet, folded from the event log: stations, connectors, transactions.

The read model behind the operator API and the replay command. Connector state uses the very fold
the connector actors run (``actors.connector_view``), so what an actor knows and what an operator
sees come from one definition. The fold updates the state it is given in place (the runner owns
that state alone), which keeps it cheap on the hot path.

The state is checkpointed with :func:`state_codec` (the runner resumes from the checkpoint and folds
only the tail). Its fingerprint covers the dataclasses below and the source of the modules whose
folds give the state its meaning, so a checkpoint of another build is ignored and the state refolds.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors import connector_view, installed_profiles
from actors.connector_view import ConnectorView, fold_modbus_sample
from actors.connector_view import fold as fold_connector
from actors.events import Event, TransactionId, encode, events_of
from actors.events import modbus as modbus_events
from actors.events import registry as event_registry
from actors.events import station as station_events
from actors.events.modbus import ModbusDeviceRecovered, ModbusDeviceStale, ModbusPollFailed, ModbusReading
from actors.events.station import (
    ConfigurationChanged,
    ConfigurationReported,
    ConnectorStatusChanged,
    DiagnosticsStatusChanged,
    FirmwareStatusChanged,
    FrameReceived,
    FrameSent,
    ReconcileFinished,
    ReconcileStarted,
    ReconcileStep,
    StationBooted,
    StationConnected,
    StationDisconnected,
    StationFailed,
    TransactionStarted,
    TransactionStopped,
    VariablesRead,
    VariablesReported,
    VariablesSet,
)
from actors.ocpp.versions import DIALECTS, V16
from core.events import EventRecord
from core.state_codec import StateCodec
from projections import device_model

# Bump when the meaning of a checkpointed field changes without its module's source changing.
STATE_VERSION = 1


@dataclass(slots=True)
class StationView:
    station_id: str
    connected: bool = False
    connection: int | None = None
    remote: str | None = None
    ocpp_version: str | None = None  # of the current (or last) connection
    boot: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # connector 0: the station itself
    error_code: str | None = None
    firmware_status: str | None = None
    diagnostics_status: str | None = None
    last_seen: str | None = None
    last_heartbeat: str | None = None
    configuration: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, Any] | None = None  # the last StationFailed, until the station connects again
    charging_profiles: list[dict[str, Any]] = field(default_factory=list)  # on connector 0: the station
    # The last reconciliation after a boot (actors.reconcile): state, trigger, times, counts.
    reconciliation: dict[str, Any] | None = None
    connectors: dict[int, ConnectorView] = field(default_factory=dict)
    # 2.0.1 device model (projections.device_model), served apart: GET /api/stations/{id}/variables
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {
            name: getattr(self, name) for name in self.__slots__ if name not in ("connectors", "variables")
        }
        out["connectors"] = [self.connectors[n].as_dict() for n in sorted(self.connectors)]
        return out


@dataclass(slots=True)
class TransactionView:
    transaction_id: TransactionId
    station_id: str
    connector: int | None
    id_tag: str
    started: str
    meter_start_wh: float
    tag_status: str | None = None
    stopped: str | None = None
    meter_stop_wh: float | None = None
    energy_wh: float | None = None
    stop_reason: str | None = None
    stop_id_tag: str | None = None
    closed_by: str | None = None  # "station" (its StopTransaction) or "csms" (e.g. superseded)

    @property
    def active(self) -> bool:
        return self.stopped is None

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        out["active"] = self.active
        return out


@dataclass(slots=True)
class DeviceView:
    """A Modbus meter or EVSE controller: whether it answers, and what it read last."""

    device_id: str
    stale: bool = False
    polls: int = 0
    failures: int = 0
    last_reading: str | None = None
    last_failure: dict[str, Any] | None = None
    values: dict[str, Any] = field(default_factory=dict)  # "measurand phase" -> {value, unit}
    station: str | None = None
    connector: int | None = None
    site: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class LiveState:
    stations: dict[str, StationView] = field(default_factory=dict)
    # Running transactions, and the finished ones up to the projection's bound (all without one).
    transactions: dict[TransactionId, TransactionView] = field(default_factory=dict)
    devices: dict[str, DeviceView] = field(default_factory=dict)  # by stream: meter/<id>, evse/<id>
    position: int = 0
    # The finished transactions kept, oldest first: bookkeeping of the bound, not state to compare.
    finished: deque[TransactionId] = field(default_factory=deque, compare=False)


class LiveProjection:
    """The fleet's live state as a projection (see ``core.projection``).

    With ``finished_transactions`` set, only that many finished transactions stay in
    ``LiveState.transactions`` (the most recently stopped); older ones are in the transaction index
    (``projections.transactions``), where the API reads them. Without it, all stay (replay).
    """

    name = "live"

    def __init__(self, finished_transactions: int | None = None) -> None:
        if finished_transactions is not None and finished_transactions < 0:
            raise ValueError(f"finished_transactions must be >= 0, got {finished_transactions}")
        self.finished_transactions = finished_transactions

    def initial(self) -> LiveState:
        return LiveState()

    def fold(self, state: LiveState, record: EventRecord) -> LiveState:
        state.position = record.position
        kind, _, station_id = record.stream.partition("/")
        if kind in ("meter", "evse"):
            device = state.devices.get(record.stream)
            if device is None:
                device = state.devices[record.stream] = DeviceView(record.stream.partition("/")[2])
            for event in events_of(record):
                device_handler = _DEVICE_FOLDS.get(type(event))
                if device_handler is not None:
                    device_handler(state, device, event, record)
            return state
        if kind != "station":
            return state
        station = state.stations.get(station_id)
        if station is None:
            station = state.stations[station_id] = StationView(station_id)
        stamp = record.time.isoformat()
        for event in events_of(record):
            cls = type(event)
            handler = _STATION_FOLDS.get(cls)
            if isinstance(event, TransactionStopped) and self._running(state, event.transaction_id):
                _stopped(state, station, event, stamp)
                self._bound_finished(state, event.transaction_id)
            elif handler is not None:
                handler(state, station, event, stamp)
            if cls in _RAW:
                continue  # raw frames change no connector: skip the connector folds
            if cls in installed_profiles.ALWAYS_CONCERN:
                profiles = installed_profiles.fold(station.charging_profiles, 0, event)
                if profiles is not None:
                    station.charging_profiles = profiles
            number = getattr(event, "connector", None)
            if isinstance(number, int) and number > 0 and number not in station.connectors:
                station.connectors[number] = ConnectorView(number)
            for view in station.connectors.values():
                fold_connector(view, event, record.position, record.time)
        return state

    def _running(self, state: LiveState, transaction_id: TransactionId) -> bool:
        tx = state.transactions.get(transaction_id)
        return self.finished_transactions is not None and tx is not None and tx.active

    def _bound_finished(self, state: LiveState, transaction_id: TransactionId) -> None:
        """Keep at most ``finished_transactions`` finished transactions in memory."""
        state.finished.append(transaction_id)
        while len(state.finished) > (self.finished_transactions or 0):
            forgotten = state.finished.popleft()
            tx = state.transactions.get(forgotten)
            if tx is not None and not tx.active:  # restarted under the same id: running again, kept
                del state.transactions[forgotten]


# -- station stream folds: (state, station, event, the record's time as ISO text) ------------------


def _frame_received(state: LiveState, station: StationView, event: FrameReceived, stamp: str) -> None:
    station.last_seen = stamp
    if event.action == "Heartbeat":
        station.last_heartbeat = stamp


def _connected(state: LiveState, station: StationView, event: StationConnected, stamp: str) -> None:
    station.connected, station.connection, station.remote = True, event.conn, event.remote
    station.ocpp_version = DIALECTS.get(event.subprotocol or "", V16).version
    station.failed = None


def _disconnected(state: LiveState, station: StationView, event: StationDisconnected, stamp: str) -> None:
    if station.connection == event.conn:
        station.connected = False


def _failed(state: LiveState, station: StationView, event: StationFailed, stamp: str) -> None:
    station.connected = False
    station.failed = {"time": stamp, **encode(event)[1]}


def _booted(state: LiveState, station: StationView, event: StationBooted, stamp: str) -> None:
    station.boot = encode(event)[1]


def _firmware(state: LiveState, station: StationView, event: FirmwareStatusChanged, stamp: str) -> None:
    station.firmware_status = event.status


def _diagnostics(state: LiveState, station: StationView, event: DiagnosticsStatusChanged, stamp: str) -> None:
    station.diagnostics_status = event.status


def _configuration(state: LiveState, station: StationView, event: ConfigurationReported, stamp: str) -> None:
    station.configuration.update({k["key"]: k.get("value") for k in event.keys})


def _configured(state: LiveState, station: StationView, event: ConfigurationChanged, stamp: str) -> None:
    station.configuration[event.key] = event.value


def _status(state: LiveState, station: StationView, event: ConnectorStatusChanged, stamp: str) -> None:
    if event.connector == 0:
        station.status, station.error_code = event.status, event.error_code


def _started(state: LiveState, station: StationView, event: TransactionStarted, stamp: str) -> None:
    state.transactions[event.transaction_id] = TransactionView(
        event.transaction_id,
        station.station_id,
        event.connector,
        event.id_token.id,
        event.timestamp,
        event.meter_start_wh,
        tag_status=event.status,
    )


def _stopped(state: LiveState, station: StationView, event: TransactionStopped, stamp: str) -> None:
    tx = state.transactions.get(event.transaction_id)
    if tx is not None and tx.active:  # a stop for a stopped transaction changes nothing
        tx.closed_by = event.closed_by
        tx.stopped = event.timestamp
        tx.meter_stop_wh = event.meter_stop_wh
        tx.energy_wh = event.energy_wh
        tx.stop_reason = event.reason
        tx.stop_id_tag = event.id_token.id if event.id_token is not None else None


def _reconcile_started(state: LiveState, station: StationView, event: ReconcileStarted, stamp: str) -> None:
    station.reconciliation = {
        "state": "running",
        "trigger": event.trigger,
        "started": stamp,
        "finished": None,
        "applied": 0,
        "failed": 0,
        "last_failure": None,
    }


def _reconcile_step(state: LiveState, station: StationView, event: ReconcileStep, stamp: str) -> None:
    run = station.reconciliation
    if run is None:
        return
    if event.outcome == "applied":
        run["applied"] += 1
    elif event.outcome in ("rejected", "failed"):
        run["failed"] += 1
        run["last_failure"] = {"time": stamp, **encode(event)[1]}


def _reconcile_finished(state: LiveState, station: StationView, event: ReconcileFinished, stamp: str) -> None:
    run = station.reconciliation
    if run is None:
        return
    run.update(state=event.outcome, finished=stamp, applied=event.applied, failed=event.failed)


def _reported(state: LiveState, station: StationView, event: VariablesReported, stamp: str) -> None:
    device_model.fold_reported(station.variables, event)


def _read(state: LiveState, station: StationView, event: VariablesRead, stamp: str) -> None:
    device_model.fold_read(station.variables, event)


def _set(state: LiveState, station: StationView, event: VariablesSet, stamp: str) -> None:
    device_model.fold_set(station.variables, event)


_RAW: frozenset[type[Event]] = frozenset({FrameReceived, FrameSent})
_STATION_FOLDS: dict[type[Event], Callable[[LiveState, StationView, Any, str], None]] = {
    FrameReceived: _frame_received,
    StationConnected: _connected,
    StationDisconnected: _disconnected,
    StationFailed: _failed,
    StationBooted: _booted,
    FirmwareStatusChanged: _firmware,
    DiagnosticsStatusChanged: _diagnostics,
    ConfigurationReported: _configuration,
    ConfigurationChanged: _configured,
    ConnectorStatusChanged: _status,
    TransactionStarted: _started,
    TransactionStopped: _stopped,
    ReconcileStarted: _reconcile_started,
    ReconcileStep: _reconcile_step,
    ReconcileFinished: _reconcile_finished,
    VariablesReported: _reported,
    VariablesRead: _read,
    VariablesSet: _set,
}


# -- device stream folds: (state, device, event, record) --------------------------------------------


def _reading(state: LiveState, device: DeviceView, event: ModbusReading, record: EventRecord) -> None:
    device.polls += 1
    device.last_reading = record.time.isoformat()
    device.station, device.connector, device.site = event.station, event.connector, event.site
    for sample in event.samples:
        key = " ".join(filter(None, (sample.get("measurand") or sample.get("name"), sample.get("phase"))))
        device.values[key] = {"value": sample["value"], "unit": sample.get("unit")}
    station = state.stations.get(device.station) if device.station else None
    if station is not None and isinstance(device.connector, int):
        view = station.connectors.get(device.connector)
        if view is None:
            view = station.connectors[device.connector] = ConnectorView(device.connector)
        fold_modbus_sample(view, event, record.time)


def _poll_failed(state: LiveState, device: DeviceView, event: ModbusPollFailed, record: EventRecord) -> None:
    device.polls += 1
    device.failures += 1
    device.last_failure = {"time": record.time.isoformat(), "kind": event.kind, "detail": event.detail}


def _stale(state: LiveState, device: DeviceView, event: ModbusDeviceStale, record: EventRecord) -> None:
    device.stale = True


def _recovered(
    state: LiveState, device: DeviceView, event: ModbusDeviceRecovered, record: EventRecord
) -> None:
    device.stale = False


_DEVICE_FOLDS: dict[type[Event], Callable[[LiveState, DeviceView, Any, EventRecord], None]] = {
    ModbusReading: _reading,
    ModbusPollFailed: _poll_failed,
    ModbusDeviceStale: _stale,
    ModbusDeviceRecovered: _recovered,
}


def state_codec(projection: LiveProjection) -> StateCodec[LiveState]:
    """How ``projection``'s state is checkpointed (see ``core.state_codec``); the bound on finished
    transactions is part of the fingerprint, since it shapes what the state holds."""
    return StateCodec(
        LiveState,
        (StationView, TransactionView, DeviceView, ConnectorView),
        version=f"{STATE_VERSION}/{projection.finished_transactions}",
        modules=(
            sys.modules[__name__],
            connector_view,
            installed_profiles,
            device_model,
            station_events,
            modbus_events,
            event_registry,
        ),
    )
