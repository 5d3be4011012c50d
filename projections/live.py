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
from dataclasses import dataclass, field
from typing import Any

from actors import connector_view, installed_profiles
from actors import event_types as ev
from actors.connector_view import ConnectorView, fold_modbus_sample
from actors.connector_view import fold as fold_connector
from core.events import EventRecord
from core.state_codec import StateCodec

# Bump when the meaning of a checkpointed field changes without its module's source changing.
STATE_VERSION = 1


@dataclass(slots=True)
class StationView:
    station_id: str
    connected: bool = False
    connection: int | None = None
    remote: str | None = None
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
    connectors: dict[int, ConnectorView] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__ if name != "connectors"}
        out["connectors"] = [self.connectors[n].as_dict() for n in sorted(self.connectors)]
        return out


@dataclass(slots=True)
class TransactionView:
    transaction_id: int
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
    transactions: dict[int, TransactionView] = field(default_factory=dict)
    devices: dict[str, DeviceView] = field(default_factory=dict)  # by stream: meter/<id>, evse/<id>
    position: int = 0
    # The finished transactions kept, oldest first: bookkeeping of the bound, not state to compare.
    finished: deque[int] = field(default_factory=deque, compare=False)


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
            self._fold_device(state, record)
            return state
        if kind != "station":
            return state
        station = state.stations.get(station_id)
        if station is None:
            station = state.stations[station_id] = StationView(station_id)
        data = record.data
        stamp = record.time.isoformat()
        t = record.type
        if t == ev.FRAME_RECEIVED:
            station.last_seen = stamp
            if data.get("action") == "Heartbeat":
                station.last_heartbeat = stamp
            return state  # raw frames change no connector: skip the connector folds
        if t == ev.FRAME_SENT:
            return state
        if t == ev.STATION_CONNECTED:
            station.connected, station.connection, station.remote = True, data["conn"], data.get("remote")
            station.failed = None
        elif t == ev.STATION_DISCONNECTED:
            if station.connection == data["conn"]:
                station.connected = False
        elif t == ev.STATION_FAILED:
            station.connected = False
            station.failed = {"time": stamp, **data}
        elif t == ev.STATION_BOOTED:
            station.boot = dict(data)
        elif t == ev.FIRMWARE_STATUS_CHANGED:
            station.firmware_status = data["status"]
        elif t == ev.DIAGNOSTICS_STATUS_CHANGED:
            station.diagnostics_status = data["status"]
        elif t == ev.CONFIGURATION_REPORTED:
            station.configuration.update({k["key"]: k.get("value") for k in data["keys"]})
        elif t == ev.CONFIGURATION_CHANGED:
            station.configuration[data["key"]] = data["value"]
        elif t == ev.CONNECTOR_STATUS_CHANGED and data["connector"] == 0:
            station.status, station.error_code = data["status"], data["error_code"]
        elif t == ev.TRANSACTION_STARTED:
            tx_id = int(data["transaction_id"])
            state.transactions[tx_id] = TransactionView(
                tx_id,
                station_id,
                data["connector"],
                data["id_tag"],
                data["timestamp"],
                data["meter_start_wh"],
                tag_status=data.get("status"),
            )
        elif t == ev.TRANSACTION_STOPPED:
            tx = state.transactions.get(int(data["transaction_id"]))
            if tx is not None and tx.active:  # a stop for a stopped transaction changes nothing
                tx.closed_by = data.get("closed_by", "station")
                tx.stopped = data["timestamp"]
                tx.meter_stop_wh = data["meter_stop_wh"]
                tx.energy_wh = data.get("energy_wh")
                tx.stop_reason = data.get("reason")
                tx.stop_id_tag = data.get("id_tag")
                self._bound_finished(state, tx.transaction_id)
        if t in installed_profiles.ALWAYS_CONCERN:
            profiles = installed_profiles.fold(station.charging_profiles, 0, t, data)
            if profiles is not None:
                station.charging_profiles = profiles
        self._fold_connectors(station, record)
        return state

    def _bound_finished(self, state: LiveState, transaction_id: int) -> None:
        """Keep at most ``finished_transactions`` finished transactions in memory."""
        if self.finished_transactions is None:
            return
        state.finished.append(transaction_id)
        while len(state.finished) > self.finished_transactions:
            forgotten = state.finished.popleft()
            tx = state.transactions.get(forgotten)
            if tx is not None and not tx.active:  # restarted under the same id: running again, kept
                del state.transactions[forgotten]

    @staticmethod
    def _fold_device(state: LiveState, record: EventRecord) -> None:
        device = state.devices.get(record.stream)
        if device is None:
            device = state.devices[record.stream] = DeviceView(record.stream.partition("/")[2])
        data = record.data
        if record.type == ev.MODBUS_READING:
            device.polls += 1
            device.last_reading = record.time.isoformat()
            device.station, device.connector, device.site = (
                data.get("station"),
                data.get("connector"),
                data.get("site"),
            )
            for sample in data["samples"]:
                key = " ".join(
                    filter(None, (sample.get("measurand") or sample.get("name"), sample.get("phase")))
                )
                device.values[key] = {"value": sample["value"], "unit": sample.get("unit")}
            station = state.stations.get(device.station) if device.station else None
            if station is not None and isinstance(device.connector, int):
                view = station.connectors.get(device.connector)
                if view is None:
                    view = station.connectors[device.connector] = ConnectorView(device.connector)
                fold_modbus_sample(view, record)
        elif record.type == ev.MODBUS_POLL_FAILED:
            device.polls += 1
            device.failures += 1
            device.last_failure = {
                "time": record.time.isoformat(),
                "kind": data.get("kind"),
                "detail": data.get("detail"),
            }
        elif record.type == ev.MODBUS_DEVICE_STALE:
            device.stale = True
        elif record.type == ev.MODBUS_DEVICE_RECOVERED:
            device.stale = False

    @staticmethod
    def _fold_connectors(station: StationView, record: EventRecord) -> None:
        number = record.data.get("connector")
        if isinstance(number, int) and number > 0 and number not in station.connectors:
            station.connectors[number] = ConnectorView(number)
        for view in station.connectors.values():
            fold_connector(view, record)


def state_codec(projection: LiveProjection) -> StateCodec[LiveState]:
    """How ``projection``'s state is checkpointed (see ``core.state_codec``); the bound on finished
    transactions is part of the fingerprint, since it shapes what the state holds."""
    return StateCodec(
        LiveState,
        (StationView, TransactionView, DeviceView, ConnectorView),
        version=f"{STATE_VERSION}/{projection.finished_transactions}",
        modules=(sys.modules[__name__], connector_view, installed_profiles, ev),
    )
