"""What a site actor knows, folded from the committed log: its stations, connectors, grid meter, limits.

:class:`SiteView` is a plain fold, sans I/O: :meth:`SiteView.apply` takes one typed event of a stream
and says whether it changed an input of the allocation (so the actor knows when to decide again).
It reads

- ``station/<id>`` of the site's stations: connection and boot, connector status, transactions
  starting and stopping, and each connector's measured current per phase (``Current.Import`` in
  MeterSampled; a value without a phase counts on every phase the connector uses);
- ``meter/<meter>``: the grid meter's current per phase (``Current.Import`` on L1..L3), and its
  stale and recovered events (a reading is a change when a phase moved by the deadband or more);
- ``site/<id>``: the limits each source set or cleared;
- ``needs/<station>`` of the site's stations: the charging needs set over the API
  (:class:`~actors.events.needs.ChargingNeedsSet`, until cleared), and ``prices/<site>``: the price
  curve in force. A 2.0.1 station's NotifyEVChargingNeeds (recorded in its own stream as
  :class:`~actors.events.station.EVChargingNeedsNotified`) is a need too, from the EV itself, until
  its transaction ends (:func:`ev_need`);
- each connector's energy register (``Energy.Active.Import.Register``, Wh), so a need's energy
  counts what the car took since it was set;
- the phases each vehicle draws on, learned from its per-phase ``Current.Import`` (L1, L2, L3): a
  phase where it drew :data:`DRAWING` A or more during its transaction counts from then until the
  transaction ends. A connector configured on all three phases is allocated on the phases its
  vehicle was seen on once it has drawn (a single-phase car on L1 only is counted on L1 only,
  leaving L2 and L3 to others); before that, and for a connector configured on fewer phases, the
  configured phases hold. Phases are learned, never unlearned, within a transaction: a car that
  switches from one phase to three is counted on three from its first sample there. The station's
  L1..L3 are taken as the site's (no phase rotation).

A connector **wants power** while a transaction runs on it, or while it reports ``Charging`` without a
transaction the CSMS knows of; one behind a Modbus EVSE controller (:meth:`SiteView.control`) always
does: its setpoint is in force whether a vehicle is there or not, so the allocation must count it.
The controller's IEC 61851 vehicle state (a profile point named ``vehicle_state`` in the
``evse/<device>`` stream: 1 no vehicle, 2 present, 3 charging, 4 charging with ventilation) is read
into :attr:`ConnectorState.vehicle`; with no vehicle the round holds the connector at the site's
``min_current`` (:func:`actors.sites.decide.decide`), what an arriving car may draw until the next
round, instead of a full share. Its arrival (for ``fifo``) is when that began. The view
round-trips through :meth:`as_data` / :meth:`from_data` so each round event carries it and a restarted actor
resumes from the last round instead of the whole log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actors.charging import Unit, parse_time, wire_time
from actors.events import Event
from actors.events.modbus import ModbusDeviceRecovered, ModbusDeviceStale, ModbusReading
from actors.events.needs import ChargingNeedsCleared, ChargingNeedsSet, SitePricesSet
from actors.events.refs import TransactionId
from actors.events.registry import decode, encode
from actors.events.site import SiteLimitCleared, SiteLimitSet
from actors.events.station import (
    ConnectorStatusChanged,
    EVChargingNeedsNotified,
    MeterSampled,
    StationBooted,
    StationConnected,
    StationDisconnected,
    TransactionStarted,
    TransactionStopped,
)
from actors.events.upstream import UpstreamProfileHeld, UpstreamProfilesCleared
from actors.sites.limits import LimitError, Source, SourceLimit
from actors.sites.model import PHASES, ConnectorId, Site
from actors.sites.upstream import CycleLimit, HeldProfiles

PhaseCurrents = tuple[float | None, float | None, float | None]
NONE3: PhaseCurrents = (None, None, None)
CURRENT = "Current.Import"
DRAWING = 1.0  # A: a vehicle drawing at least this on a phase draws on it
ENERGY = "Energy.Active.Import.Register"
VEHICLE_STATE = "vehicle_state"  # the EVSE controller profile's point holding the vehicle state
NO_VEHICLE = 1  # IEC 61851 state A: no vehicle connected
EV_SOURCE = "ocpp"  # a need's source when the EV stated it (2.0.1 NotifyEVChargingNeeds)
PHASE_INDEX = {"L1": 0, "L2": 1, "L3": 2}


@dataclass(slots=True)
class ConnectorState:
    status: str | None = None
    transaction: TransactionId | None = None
    measured: PhaseCurrents = NONE3  # A on L1..L3 as last sampled (None: not measured)
    since: datetime | None = None  # when it began wanting power
    controlled: bool = False  # behind a Modbus EVSE controller: counted as wanting power always
    energy: float | None = None  # Wh: the energy register as last sampled
    drawn: tuple[int, ...] = ()  # the phases its vehicle was seen drawing on in this transaction
    vehicle: int | None = None  # an EVSE controller's IEC 61851 vehicle state (None: not read)
    started: datetime | None = None  # when its transaction started, as the station says (else logged)

    def phases(self, configured: tuple[int, ...]) -> tuple[int, ...]:
        """The site's phases this connector's vehicle draws on: the configured ones, narrowed to those
        it was seen drawing on (:data:`DRAWING`) when it is configured on all three."""
        if len(configured) < len(PHASES) or not self.drawn:
            return configured
        return self.drawn

    @property
    def wants_power(self) -> bool:
        return self.controlled or self.transaction is not None or self.status == "Charging"


@dataclass(slots=True)
class GridMeter:
    current: PhaseCurrents = NONE3
    at: datetime | None = None  # when the last reading was taken
    stale: bool = False  # the meter's own actor says it missed its polls


@dataclass(slots=True)
class SiteView:
    site: Site
    connected: set[str] = field(default_factory=set)
    connectors: dict[ConnectorId, ConnectorState] = field(default_factory=dict)
    meter: GridMeter = field(default_factory=GridMeter)
    limits: dict[Source, SourceLimit] = field(default_factory=dict)
    needs: dict[ConnectorId, ChargingNeedsSet] = field(default_factory=dict)
    # the energy register (Wh) when each need was set; None until the connector samples one
    baselines: dict[ConnectorId, float | None] = field(default_factory=dict)
    prices: SitePricesSet | None = None
    devices: dict[str, ConnectorId] = field(default_factory=dict)  # EVSE controller id -> its connector
    held: dict[str, HeldProfiles] = field(default_factory=dict)  # the upstream's profiles, by station

    def remaining(self, key: ConnectorId) -> float:
        """Wh the need on ``key`` still asks for: its energy less what the register counted since."""
        need = self.needs[key]
        baseline = self.baselines.get(key)
        energy = self.connectors[key].energy if key in self.connectors else None
        taken = 0.0 if baseline is None or energy is None else max(0.0, energy - baseline)
        return max(0.0, need.energy_wh - taken)

    def control(self, connectors: Mapping[ConnectorId, str], at: datetime) -> None:
        """Mark ``connectors`` as behind the EVSE controllers they map to (device ids)."""
        for key, device in connectors.items():
            self.devices[device] = key
            state = self._connector(key.station, key.connector)
            if not state.controlled:
                state.controlled = True
                state.since = state.since or at

    def streams(self) -> set[str]:
        """The streams this view reads."""
        wanted = {f"station/{s}" for s in self.site.stations} | {f"site/{self.site.id}"}
        wanted |= {f"needs/{s}" for s in self.site.stations} | {f"prices/{self.site.id}"}
        wanted |= {f"evse/{device}" for device in self.devices}
        wanted |= {f"upstream/{s}" for s in self.site.stations}
        if self.site.meter is not None:
            wanted.add(f"meter/{self.site.meter}")
        return wanted

    def apply(self, stream: str, event: Event, at: datetime) -> bool:
        """Fold ``event`` of ``stream`` (committed at ``at``); True when an allocation input changed."""
        kind, _, ident = stream.partition("/")
        if kind == "station":
            return self._station(ident, event, at)
        if kind == "meter":
            return self._meter(event, at)
        if kind == "evse":
            return self._vehicle(ident, event)
        if kind == "needs":
            if isinstance(event, ChargingNeedsSet):
                self._need(event)
                return True
            if isinstance(event, ChargingNeedsCleared):
                key = ConnectorId(event.station, event.connector)
                self.baselines.pop(key, None)
                return self.needs.pop(key, None) is not None
            return False
        if kind == "upstream":
            return self._upstream(ident, event)
        if kind == "prices":
            if isinstance(event, SitePricesSet):
                self.prices = event
                return True
            return False
        if isinstance(event, SiteLimitSet):
            self.limits[Source(event.source)] = limit_of(event)
            return True
        if isinstance(event, SiteLimitCleared):
            return self.limits.pop(Source(event.source), None) is not None
        return False

    def _upstream(self, station: str, event: Event) -> bool:
        if isinstance(event, UpstreamProfileHeld):
            try:
                limit: SourceLimit | CycleLimit = (
                    CycleLimit.of(event.cycle)
                    if event.cycle is not None
                    else limit_of(SiteLimitSet(**event.limit))
                )
            except (LimitError, TypeError):
                return False  # the link checked it when it held it; an unreadable one holds nothing
            self.held.setdefault(station, HeldProfiles()).hold(event, limit)
            return True
        if isinstance(event, UpstreamProfilesCleared):
            found = self.held.get(station)
            return found is not None and found.clear(event)
        return False

    def _vehicle(self, device: str, event: Event) -> bool:
        key = self.devices.get(device)
        if key is None or not isinstance(event, ModbusReading):
            return False
        found = next((s for s in event.samples if s.get("name") == VEHICLE_STATE), None)
        if found is None or not isinstance(found.get("value"), int | float):
            return False
        state = self._connector(key.station, key.connector)
        before, state.vehicle = state.vehicle, int(found["value"])
        return before != state.vehicle

    def _need(self, event: ChargingNeedsSet) -> None:
        key = ConnectorId(event.station, event.connector)
        self.needs[key] = event
        self.baselines[key] = self.connectors[key].energy if key in self.connectors else None

    def _connector(self, station: str, number: int) -> ConnectorState:
        key = ConnectorId(station, number)
        found = self.connectors.get(key)
        if found is None:
            found = self.connectors[key] = ConnectorState()
        return found

    def _station(self, station: str, event: Event, at: datetime) -> bool:
        if isinstance(event, StationConnected | StationBooted):
            self.connected.add(station)
            return False
        if isinstance(event, StationDisconnected):
            self.connected.discard(station)
            return False
        if isinstance(event, ConnectorStatusChanged):
            if event.connector < 1:
                return False
            state = self._connector(station, event.connector)
            wanted = state.wants_power
            state.status = event.status
            if event.status in ("Available", "Unavailable", "Faulted", "Finishing"):
                state.measured = NONE3
            return self._began(state, wanted, at)
        if isinstance(event, TransactionStarted):
            state = self._connector(station, event.connector)
            wanted = state.wants_power
            state.transaction = event.transaction_id
            stamped = parse_time(event.timestamp)
            if stamped is not None and stamped.tzinfo is None:
                stamped = stamped.replace(tzinfo=UTC)  # as the composite schedule reads it
            state.started = stamped or at
            state.drawn = ()
            return self._began(state, wanted, at) or True
        if isinstance(event, TransactionStopped):
            if event.connector is None:
                return False
            state = self._connector(station, event.connector)
            if state.transaction != event.transaction_id:
                return False
            state.transaction = None
            state.started = None
            state.measured = NONE3
            state.drawn = ()
            if station in self.held:
                self.held[station].ended(event.connector)
            key = ConnectorId(station, event.connector)
            found = self.needs.get(key)
            if found is not None and found.source == EV_SOURCE:
                del self.needs[key]  # the EV's own need left with it
                self.baselines.pop(key, None)
            self._began(state, True, at)
            return True
        if isinstance(event, MeterSampled):
            return self._sampled(station, event)
        if isinstance(event, EVChargingNeedsNotified):
            need = ev_need(station, event, self.site)
            if need is None:
                return False
            self._need(need)
            return True
        return False

    @staticmethod
    def _began(state: ConnectorState, wanted: bool, at: datetime) -> bool:
        """Keep ``since`` in step with ``wants_power``; True when that changed."""
        if state.wants_power and not wanted:
            state.since = at
            return True
        if wanted and not state.wants_power:
            state.since = None
            return True
        return False

    def _sampled(self, station: str, event: MeterSampled) -> bool:
        if event.connector < 1:
            return False
        values: list[float | None] = [None, None, None]
        tagged: set[int] = set()  # phases a phase-tagged sample shows it drawing on
        energy: float | None = None
        for sample in event.samples:
            if not isinstance(sample.get("value"), int | float):
                continue
            if sample.get("measurand") == ENERGY and sample.get("unit", "Wh") == "Wh":
                energy = float(sample["value"])
            if sample.get("measurand") != CURRENT:
                continue
            phase = (sample.get("phase") or "")[:2]
            if phase in PHASE_INDEX:
                values[PHASE_INDEX[phase]] = float(sample["value"])
                if sample["value"] >= DRAWING:
                    tagged.add(PHASE_INDEX[phase] + 1)
            elif not phase:
                used = self.site.settings_of(ConnectorId(station, event.connector)).phases
                for p in used:
                    values[p - 1] = float(sample["value"])
        if energy is not None:
            key = ConnectorId(station, event.connector)
            self._connector(station, event.connector).energy = energy
            if key in self.needs and self.baselines.get(key) is None:
                self.baselines[key] = energy  # the need counts from its first reading
        if values == [None, None, None]:
            return False
        state = self._connector(station, event.connector)
        state.measured = (values[0], values[1], values[2])
        drawn = set(state.drawn) | tagged
        if len(drawn) > len(state.drawn):
            state.drawn = tuple(sorted(drawn))
        return True

    def _meter(self, event: Event, at: datetime) -> bool:
        if isinstance(event, ModbusReading):
            values: list[float | None] = [None, None, None]
            for sample in event.samples:
                phase = (sample.get("phase") or "")[:2]
                if sample.get("measurand") == CURRENT and phase in PHASE_INDEX:
                    values[PHASE_INDEX[phase]] = float(sample["value"])
            before = self.meter
            self.meter = GridMeter((values[0], values[1], values[2]), at, False)
            return before.stale or before.at is None or self._moved(before.current, self.meter.current)
        if isinstance(event, ModbusDeviceStale):
            self.meter.stale = True
            return True
        if isinstance(event, ModbusDeviceRecovered):
            self.meter.stale = False
            return True
        return False

    def _moved(self, before: PhaseCurrents, now: PhaseCurrents) -> bool:
        """True when a phase changed by the deadband or more (a smaller change waits for the next
        periodic round: it could not change a send, and a meter polled every second would otherwise
        make a round each time)."""
        least = max(self.site.pacing.deadband, 0.1)
        for old, new in zip(before, now, strict=True):
            if old is None or new is None:
                if old is not new:
                    return True
            elif abs(new - old) >= least:
                return True
        return False

    # -- the view as a round event carries it ---------------------------------------------------

    def as_data(self) -> dict[str, Any]:
        return {
            "connected": sorted(self.connected),
            "connectors": [
                {
                    "station": key.station,
                    "connector": key.connector,
                    "status": state.status,
                    "transaction": state.transaction,
                    "measured": list(state.measured),
                    "since": None if state.since is None else wire_time(state.since),
                    "controlled": state.controlled,
                    "energy": state.energy,
                    "drawn": list(state.drawn),
                    "vehicle": state.vehicle,
                    "started": None if state.started is None else wire_time(state.started),
                }
                for key, state in sorted(self.connectors.items())
            ],
            "needs": [
                {"need": encode(need)[1], "baseline": self.baselines.get(key)}
                for key, need in sorted(self.needs.items())
            ],
            "prices": None if self.prices is None else encode(self.prices)[1],
            "meter": {
                "current": list(self.meter.current),
                "at": None if self.meter.at is None else wire_time(self.meter.at),
                "stale": self.meter.stale,
            },
            "limits": [limit_data(limit) for limit in self.limits.values()],
            "held": [
                {"station": station, "profile": encode(found.event)[1]}
                for station, profiles in sorted(self.held.items())
                for found in profiles.profiles.values()
            ],
        }

    @classmethod
    def from_data(cls, site: Site, data: dict[str, Any]) -> SiteView:
        view = cls(site, connected=set(data["connected"]))
        for item in data["connectors"]:
            measured = item["measured"]
            view.connectors[ConnectorId(item["station"], item["connector"])] = ConnectorState(
                item["status"],
                item["transaction"],
                (measured[0], measured[1], measured[2]),
                None if item["since"] is None else parse_time(item["since"]),
                item["controlled"],
                item.get("energy"),
                tuple(item.get("drawn", ())),
                item.get("vehicle"),
                parse_time(item["started"]) if item.get("started") else None,
            )
        meter = data["meter"]
        current = meter["current"]
        at = None if meter["at"] is None else parse_time(meter["at"])
        view.meter = GridMeter((current[0], current[1], current[2]), at, meter["stale"])
        for item in data["limits"]:
            limit = limit_of(SiteLimitSet(**item))
            view.limits[limit.source] = limit
        for item in data.get("needs", ()):
            need = decode(ChargingNeedsSet.TYPE, item["need"])
            assert isinstance(need, ChargingNeedsSet)
            key = ConnectorId(need.station, need.connector)
            view.needs[key], view.baselines[key] = need, item["baseline"]
        for item in data.get("held", ()):
            held = decode(UpstreamProfileHeld.TYPE, item["profile"])
            assert isinstance(held, UpstreamProfileHeld)
            view._upstream(item["station"], held)
        if data.get("prices") is not None:
            prices = decode(SitePricesSet.TYPE, data["prices"])
            assert isinstance(prices, SitePricesSet)
            view.prices = prices
        return view


def ev_need(station: str, event: EVChargingNeedsNotified, site: Site) -> ChargingNeedsSet | None:
    """The need a 2.0.1 NotifyEVChargingNeeds states, as the API would set it: its energy by its
    departure at up to the EV's maximum current (AC), or its maximum power as A per phase on the
    connector's phases at the site's voltage (DC). None when it gives no energy or no departure: there
    is nothing to plan by, and the connector keeps the instantaneous allocation."""
    if event.energy_wh is None or event.energy_wh <= 0 or event.departure is None:
        return None
    departure = parse_time(event.departure)
    if departure is None or departure.utcoffset() is None:
        return None
    phases = len(site.settings_of(ConnectorId(station, event.connector)).phases)
    if event.max_current_a is not None and event.max_current_a > 0:
        max_current = event.max_current_a
    elif event.max_power_w is not None and event.max_power_w > 0:
        max_current = event.max_power_w / (site.voltage * phases)
    else:
        max_current = site.settings_of(ConnectorId(station, event.connector)).max_current or 32.0
    minimum = event.min_current_a if event.min_current_a is not None and event.min_current_a > 0 else None
    return ChargingNeedsSet(
        station=station,
        connector=event.connector,
        evse=event.evse,
        energy_wh=float(event.energy_wh),
        departure=wire_time(departure),
        max_current=float(max_current),
        min_current=minimum,
        source=EV_SOURCE,
    )


def limit_of(event: SiteLimitSet) -> SourceLimit:
    """The :class:`SourceLimit` an event sets; :class:`LimitError` when it does not hold one."""

    def moment(text: str | None, what: str) -> datetime | None:
        if text is None:
            return None
        found = parse_time(text)
        if found is None or found.utcoffset() is None:
            raise LimitError(f"{what}: not an RFC 3339 date-time with an offset: {text!r}")
        return found

    try:
        source, unit = Source(event.source), Unit(event.unit)
    except ValueError as error:
        raise LimitError(str(error)) from None
    steps: list[tuple[datetime, float]] = []
    for index, step in enumerate(event.schedule or ()):
        if not (isinstance(step, list | tuple) and len(step) == 2 and isinstance(step[1], int | float)):
            raise LimitError(f"schedule[{index}]: must be [start, value]")
        start = moment(step[0] if isinstance(step[0], str) else None, f"schedule[{index}]")
        if start is None:
            raise LimitError(f"schedule[{index}]: the start must be an RFC 3339 date-time")
        steps.append((start, float(step[1])))
    return SourceLimit(
        source,
        unit,
        event.value,
        tuple(steps),
        moment(event.valid_from, "valid_from"),
        moment(event.valid_until, "valid_until"),
    )


def limit_data(limit: SourceLimit) -> dict[str, Any]:
    """The fields of the :class:`SiteLimitSet` that sets ``limit``."""
    data: dict[str, Any] = {"source": limit.source.value, "unit": limit.unit.value}
    if limit.value is not None:
        data["value"] = limit.value
    if limit.schedule:
        data["schedule"] = [[wire_time(start), value] for start, value in limit.schedule]
    if limit.valid_from is not None:
        data["valid_from"] = wire_time(limit.valid_from)
    if limit.valid_until is not None:
        data["valid_until"] = wire_time(limit.valid_until)
    return data
