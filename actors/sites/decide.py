"""One round's decision from a site's view, sans I/O: who wants power, the limits, the non-EV load.

:func:`decide` turns a :class:`~actors.sites.view.SiteView` at an instant into the targets of a round:

- **limits**: the site's configured limits and each source's (:func:`~actors.sites.limits.limits_in_force`);
- **non-EV load** per phase at the site: the grid meter's current less the EVs' own. An EV's current
  is what its station last measured, capped by what it was last sent (it cannot draw more), or what
  it was last sent when it measures nothing. Stations that sample rarely make this estimate lag; a
  meter that reads the EVs separately would do better.
- **phases**: each connector's configured phases, narrowed to those its vehicle was seen drawing on
  (:meth:`~actors.sites.view.ConnectorState.phases`);
- **EVSE controllers without a vehicle** (IEC 61851 state A read from the controller) are held at
  the site's ``min_current``: their setpoint stays in force, so the allocation counts it, but a
  full share would be reserved for nobody;
- **failsafe**: a site whose meter is stale (its actor says so, or its last reading is older than
  ``meter_timeout``, or it has not read at all) gives every connector that wants power its
  ``failsafe_current``: with no measurement there is nothing to share safely.

Without a ``meter`` the site's EVs share its limits alone (no non-EV load is assumed).
``over`` is how far the measured load is above the limit in force (A on the worst phase, or the
power excess read as A on three phases), 0 when within: it feeds the "seconds over the limit" metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from actors.charging import Unit
from actors.sites.allocation import Allocation, Demand, allocate, levels_of
from actors.sites.limits import LimitsInForce, limits_in_force
from actors.sites.model import PHASES, ConnectorId
from actors.sites.view import NO_VEHICLE, PhaseCurrents, SiteView

DEFAULT_MAX_CURRENT = 32.0
"""A per phase a connector may draw when its settings give no ``max_current`` (a common cable)."""


@dataclass(frozen=True, slots=True)
class Decision:
    targets: Mapping[ConnectorId, float]  # A per phase for every connector that wants power
    demands: tuple[Demand, ...]
    allocation: Allocation | None  # None under failsafe
    in_force: LimitsInForce
    non_ev: PhaseCurrents | None  # A per phase at the site; None: not measured
    failsafe: bool
    over: float  # A above the limit in force, 0 when within (or not measured)


def meter_stale(view: SiteView, now: datetime) -> bool:
    """True when the site has a meter and it cannot be trusted now."""
    if view.site.meter is None:
        return False
    meter = view.meter
    if meter.stale or meter.at is None or None in meter.current:
        return True
    return (now - meter.at).total_seconds() > view.site.pacing.meter_timeout


def decide(view: SiteView, now: datetime, sent: Mapping[ConnectorId, float]) -> Decision:
    """The round at ``now``; ``sent`` is the current each connector was last sent (what it may draw)."""
    site = view.site
    demands = []
    for key, state in sorted(view.connectors.items()):
        if not state.wants_power:
            continue
        settings = site.settings_of(key)
        since = state.since or now
        most = settings.max_current if settings.max_current is not None else DEFAULT_MAX_CURRENT
        if state.controlled and state.vehicle == NO_VEHICLE:
            most = min(most, site.min_current)  # held at the minimum until a vehicle arrives
        held = view.held.get(key.station)
        cap = None if held is None else held.cap(key.connector, state.transaction, now, state.started)
        if cap is not None:  # the upstream's profile for it (actors.sites.upstream)
            capped, unit = cap
            phases = state.phases(settings.phases)
            most = min(most, capped if unit is Unit.A else capped / (len(phases) * site.voltage))
        demands.append(
            Demand(
                key,
                site.circuit_of(key) or site.id,
                most,
                site.min_current,
                state.phases(settings.phases),
                settings.priority,
                since.timestamp(),
            )
        )
    in_force = limits_in_force(
        view.limits.values(),
        now,
        max_current=site.max_current,
        max_power=site.max_power,
        voltage=site.voltage,
    )
    if meter_stale(view, now):
        targets = {d.connector: min(site.failsafe_current, d.max_current) for d in demands}
        return Decision(targets, tuple(demands), None, in_force, None, True, 0.0)
    non_ev: PhaseCurrents | None = None
    over = 0.0
    if site.meter is not None:
        grid = [value or 0.0 for value in view.meter.current]
        ev = [0.0, 0.0, 0.0]
        for d in demands:
            measured = view.connectors[d.connector].measured
            limit = sent.get(d.connector, 0.0)
            for phase in d.phases:
                value = measured[phase - 1]
                ev[phase - 1] += limit if value is None else min(value, limit)
        non_ev = (
            max(0.0, grid[0] - ev[0]),
            max(0.0, grid[1] - ev[1]),
            max(0.0, grid[2] - ev[2]),
        )
        over = _over(grid, in_force, site.voltage)
    levels = levels_of(site, non_ev={site.id: non_ev} if non_ev else None, in_force=in_force)
    allocation = allocate(levels, demands, site.policy, voltage=site.voltage)
    return Decision(dict(allocation.currents), tuple(demands), allocation, in_force, non_ev, False, over)


def _over(grid: list[float], in_force: LimitsInForce, voltage: float) -> float:
    excess = 0.0
    if in_force.current is not None:
        excess = max(excess, max(grid[p - 1] for p in PHASES) - in_force.current.value)
    if in_force.power is not None:
        excess = max(excess, (sum(grid) * voltage - in_force.power.value) / (3 * voltage))
    return excess if excess > 1e-9 else 0.0


def failsafe_excess(view: SiteView) -> str | None:
    """Why the failsafe currents of every connector the site has seen exceed its configured limits,
    or None. The configuration is checked against the connectors it names (at least one per
    station); a station with more connectors than that is learned when it reports them, and its
    failsafe (a TxDefaultProfile on connector 0, for every connector) may then be more than the
    connection carries while the site is not managed."""
    site = view.site
    amps = site.failsafe_current
    if amps <= 0 or not view.connectors:
        return None
    on_phase = dict.fromkeys(PHASES, 0.0)
    watts = 0.0
    for key in view.connectors:
        phases = site.settings_of(key).phases
        for phase in phases:
            on_phase[phase] += amps
        watts += amps * len(phases) * site.voltage
    count = len(view.connectors)
    if site.max_current is not None and max(on_phase.values()) > site.max_current + 1e-9:
        return (
            f"{count} connectors x {amps:g} A failsafe = {max(on_phase.values()):g} A on a phase, above "
            f"max_current ({site.max_current:g} A)"
        )
    if site.max_power is not None and watts > site.max_power + 1e-9:
        return (
            f"{count} connectors x {amps:g} A failsafe = {watts:g} W, above max_power ({site.max_power:g} W)"
        )
    return None
