"""A connector's live state and the pure fold that builds it from station events.

Shared by the connector actor (its own state) and the live-state projection (every connector of
the fleet), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from actors import event_types as ev
from actors import installed_profiles
from core.events import EventRecord

# Measurands whose latest value gets a field of its own; everything else stays in ``last``.
_POWER = "Power.Active.Import"
_ENERGY = "Energy.Active.Import.Register"
# Units of a power sample that is active power: W, or none given (a Modbus point may declare ""). VA
# is apparent power and var reactive: neither may pass for watts.
_WATTS = (None, "", "W")
# Events that may concern a connector without naming it (the fold picks out what is its own).
_UNNAMED_CONCERNS = installed_profiles.ALWAYS_CONCERN | {ev.RESERVATION_CANCELLED}


@dataclass(slots=True)
class ConnectorView:
    """What is known about one connector right now."""

    connector: int
    status: str | None = None
    error_code: str | None = None
    info: str | None = None
    vendor_error_code: str | None = None
    status_time: str | None = None
    transaction_id: int | None = None
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


def concerns(record: EventRecord, connector: int) -> bool:
    """Whether ``record`` may change the state of ``connector``."""
    if record.type in _UNNAMED_CONCERNS:
        return True  # they name a reservation, transaction or profile, not always this connector
    return record.data.get("connector") == connector


def concerned(record: EventRecord, named: Iterable[int]) -> list[int]:
    """The connectors ``record`` may change, of a station that has ``named`` these connectors so far.

    The one it names, or, for an event that may touch a connector without naming it (a profile set
    on one connector replaces one with the same id on another; a cleared profile or a stopped
    transaction need not name theirs), every connector named so far.
    """
    if record.type in _UNNAMED_CONCERNS:
        return sorted(named)
    connector = record.data.get("connector")
    return [connector] if isinstance(connector, int) and connector > 0 else []


def fold(view: ConnectorView, record: EventRecord) -> ConnectorView:
    """Apply one event of the connector's station stream (events for other connectors are ignored)."""
    if record.position <= view.position:
        return view  # already folded (a restarted actor may be told again)
    profiles = installed_profiles.fold(view.charging_profiles, view.connector, record.type, record.data)
    if profiles is not None:
        view.charging_profiles = profiles
    if not _fold_state(view, record) and profiles is None:
        return view
    view.position = record.position
    return view


def _fold_state(view: ConnectorView, record: EventRecord) -> bool:
    """Everything but the profiles; whether the view changed."""
    data = record.data
    kind = record.type
    if kind == ev.CONNECTOR_STATUS_CHANGED and data["connector"] == view.connector:
        view.status = data["status"]
        view.error_code = data["error_code"]
        view.info = data.get("info")
        view.vendor_error_code = data.get("vendor_error_code")
        view.status_time = data.get("timestamp") or record.time.isoformat()
    elif kind == ev.TRANSACTION_STARTED and data["connector"] == view.connector:
        view.transaction_id = int(data["transaction_id"])
        view.id_tag = data["id_tag"]
        view.energy_wh = float(data["meter_start_wh"])
        if view.reservation and view.reservation.get("reservation_id") == data.get("reservation_id"):
            view.reservation = None
    elif kind == ev.TRANSACTION_STOPPED and data.get("transaction_id") == view.transaction_id:
        view.transaction_id = None
        view.id_tag = None
        view.power_w = 0.0
        if view.power_va is not None:
            view.power_va = 0.0
    elif kind == ev.METER_SAMPLED and data["connector"] == view.connector:
        _samples(view, data["samples"])
    elif kind == ev.RESERVATION_MADE and data["connector"] == view.connector:
        view.reservation = {k: data[k] for k in ("reservation_id", "id_tag", "expiry")}
    elif kind == ev.RESERVATION_CANCELLED and view.reservation is not None:
        if view.reservation.get("reservation_id") != data["reservation_id"]:
            return False
        view.reservation = None
    else:
        return False
    return True


def fold_modbus_sample(view: ConnectorView, record: EventRecord) -> ConnectorView:
    """Apply a Modbus meter reading (``ModbusReading`` of a ``meter/<id>`` stream) tied to this connector.

    Only the measured values change; ``position`` tracks the station's stream and is left alone.
    """
    when = record.time.isoformat()
    samples = [
        {
            "measurand": s["measurand"],
            "value": s["value"],
            "unit": s.get("unit"),
            "phase": s["phase"] or "",
            "timestamp": when,
        }
        for s in record.data["samples"]
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
