"""A connector's live state and the pure fold that builds it from station events.

Shared by the connector actor (its own state) and the live-state projection (every connector of
the fleet), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from actors import installed_profiles
from actors.events import Event, TransactionId
from actors.events.modbus import ModbusReading
from actors.events.station import (
    ConnectorStatusChanged,
    MeterSampled,
    ReservationCancelled,
    ReservationMade,
    TransactionStarted,
    TransactionStopped,
)

# Measurands whose latest value gets a field of its own; everything else stays in ``last``.
_POWER = "Power.Active.Import"
_ENERGY = "Energy.Active.Import.Register"
# Units of a power sample that is active power: W, or none given (a Modbus point may declare ""). VA
# is apparent power and var reactive: neither may pass for watts.
_WATTS = (None, "", "W")
# Events that may concern a connector without naming it (the fold picks out what is its own).
_UNNAMED_CONCERNS = installed_profiles.ALWAYS_CONCERN | {ReservationCancelled}


@dataclass(slots=True)
class ConnectorView:
    """What is known about one connector right now."""

    connector: int
    status: str | None = None
    error_code: str | None = None
    info: str | None = None
    vendor_error_code: str | None = None
    status_time: str | None = None
    transaction_id: TransactionId | None = None
    id_tag: str | None = None
    reservation: dict[str, Any] | None = None
    power_w: float | None = None  # active power, from samples in W (or kW)
    power_va: float | None = None  # apparent power, from Power.Active.Import samples in VA (or kVA)
    energy_wh: float | None = None
    current_a: dict[str, float] = field(default_factory=dict)  # by phase ("" when none given)
    voltage_v: dict[str, float] = field(default_factory=dict)
    soc_percent: float | None = None
    temperature_c: float | None = None
    last_sample_time: str | None = None
    charging_profiles: list[dict[str, Any]] = field(default_factory=list)
    position: int = 0  # global position of the last event folded in

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def concerns(event: Event, connector: int) -> bool:
    """Whether ``event`` may change the state of ``connector``."""
    if type(event) in _UNNAMED_CONCERNS:
        return True  # they name a reservation, transaction or profile, not always this connector
    return getattr(event, "connector", None) == connector


def concerned(event: Event, named: Iterable[int]) -> list[int]:
    """The connectors ``event`` may change, of a station that has ``named`` these connectors so far.

    The one it names, or, for an event that may touch a connector without naming it (a profile set
    on one connector replaces one with the same id on another; a cleared profile or a stopped
    transaction need not name theirs), every connector named so far.
    """
    if type(event) in _UNNAMED_CONCERNS:
        return sorted(named)
    connector = getattr(event, "connector", None)
    return [connector] if isinstance(connector, int) and connector > 0 else []


def fold(view: ConnectorView, event: Event, position: int, time: datetime) -> ConnectorView:
    """Apply one event of the connector's station stream, committed at ``position`` and ``time``
    (events for other connectors are ignored)."""
    if position <= view.position:
        return view  # already folded (a restarted actor may be told again)
    profiles = installed_profiles.fold(view.charging_profiles, view.connector, event)
    if profiles is not None:
        view.charging_profiles = profiles
    handler = _FOLDS.get(type(event))
    if not (handler is not None and handler(view, event, time)) and profiles is None:
        return view
    view.position = position
    return view


# Everything but the profiles: each returns whether the view changed.


def _status(view: ConnectorView, event: ConnectorStatusChanged, time: datetime) -> bool:
    if event.connector != view.connector:
        return False
    view.status = event.status
    view.error_code = event.error_code
    view.info = event.info
    view.vendor_error_code = event.vendor_error_code
    view.status_time = event.timestamp or time.isoformat()
    return True


def _started(view: ConnectorView, event: TransactionStarted, time: datetime) -> bool:
    if event.connector != view.connector:
        return False
    view.transaction_id = event.transaction_id
    view.id_tag = event.id_token.id
    view.energy_wh = float(event.meter_start_wh)
    if view.reservation and view.reservation.get("reservation_id") == event.reservation_id:
        view.reservation = None
    return True


def _stopped(view: ConnectorView, event: TransactionStopped, time: datetime) -> bool:
    if event.transaction_id != view.transaction_id:
        return False
    view.transaction_id = None
    view.id_tag = None
    view.power_w = 0.0
    if view.power_va is not None:
        view.power_va = 0.0
    return True


def _sampled(view: ConnectorView, event: MeterSampled, time: datetime) -> bool:
    if event.connector != view.connector:
        return False
    _samples(view, event.samples)
    return True


def _reserved(view: ConnectorView, event: ReservationMade, time: datetime) -> bool:
    if event.connector != view.connector:
        return False
    view.reservation = {
        "reservation_id": event.reservation_id,
        "id_tag": event.id_token.id,
        "expiry": event.expiry,
    }
    return True


def _reservation_cancelled(view: ConnectorView, event: ReservationCancelled, time: datetime) -> bool:
    if view.reservation is None or view.reservation.get("reservation_id") != event.reservation_id:
        return False
    view.reservation = None
    return True


_FOLDS: dict[type[Event], Callable[[ConnectorView, Any, datetime], bool]] = {
    ConnectorStatusChanged: _status,
    TransactionStarted: _started,
    TransactionStopped: _stopped,
    MeterSampled: _sampled,
    ReservationMade: _reserved,
    ReservationCancelled: _reservation_cancelled,
}


def fold_modbus_sample(view: ConnectorView, reading: ModbusReading, time: datetime) -> ConnectorView:
    """Apply a Modbus meter reading (of a ``meter/<id>`` stream, committed at ``time``) tied to this
    connector.

    Only the measured values change; ``position`` tracks the station's stream and is left alone.
    """
    when = time.isoformat()
    samples = [
        {
            "measurand": s["measurand"],
            "value": s["value"],
            "unit": s.get("unit"),
            "phase": s["phase"] or "",
            "timestamp": when,
        }
        for s in reading.samples
        if s.get("measurand")
    ]
    _samples(view, samples)
    return view


def _samples(view: ConnectorView, samples: list[dict[str, Any]]) -> None:
    for sample in samples:
        if "value" not in sample:
            continue  # signed data: kept in the log, not interpreted
        measurand, value = sample["measurand"], float(sample["value"])
        phase = sample.get("phase", "")
        if measurand == _POWER and not phase:
            unit = sample.get("unit")
            if unit in _WATTS:
                view.power_w = value
            elif unit == "VA":
                view.power_va = value
        elif measurand == _ENERGY and not phase:
            view.energy_wh = value
        elif measurand == "Current.Import":
            view.current_a[phase] = value
        elif measurand == "Voltage":
            view.voltage_v[phase] = value
        elif measurand == "SoC":
            view.soc_percent = value
        elif measurand == "Temperature":
            view.temperature_c = value
        view.last_sample_time = sample.get("timestamp")
