"""The ``[sites.<id>]`` part of the configuration file: sites, their circuits and connectors.

Example::

    [sites.depot]
    max_current = 32              # A per phase at the grid connection (max_current and/or max_power)
    max_power = 22000             # W over all phases
    voltage = 230                 # V phase to neutral, to convert W and A (default 230)
    meter = "grid-meter"          # the device measuring the connection, non-EV load included
    min_current = 6               # A: a connector that cannot have this is paused (default 6)
    policy = "equal"              # equal | priority | fifo
    stations = ["CP-1", "CP-2", "CP-3", "CP-4"]
    failsafe_current = 6          # A per connector while the site is not managed (default min_current)
    round_interval = 15           # s: a round at least this often (and whenever an input changes, ...
    debounce = 0.5                # s: ... once this long has passed without another change)
    deadband = 1                  # A: a rise smaller than this is held back, ...
    min_interval = 10             # s: ... and so is one sooner than this after the connector's last send
    meter_timeout = 10            # s: a grid meter silent this long is stale: failsafe currents
    profile_validity = 300        # s: a sent limit lapses to the failsafe unless renewed (>= 2 rounds)
    optimizer = "fastest"         # off | fastest | cheapest: plan for charging needs (default off)
    peak_target = 18000           # W: keep the site's load under this where needs allow (optional)
    plan_slot = 900               # s: the plan's resolution (default 900)
    plan_horizon = 86400          # s: how far it plans ahead, a multiple of plan_slot (default 86400)

    [[sites.depot.circuits]]
    name = "row-a"
    max_current = 25              # and/or max_power
    stations = ["CP-1", "CP-2:1"] # whole stations, or station:connector

    [[sites.depot.circuits]]
    name = "row-a-left"
    parent = "row-a"              # another circuit of the site; left out: under the site itself
    max_current = 16
    stations = ["CP-1:1"]         # CP-1's connector 1 here, its others on row-a

    [sites.depot.connectors."CP-3:1"]   # or a whole station: [sites.depot.connectors."CP-3"]
    priority = 2                  # higher first under policy = "priority" (default 0)
    phases = [1]                  # the site's phases it draws on (default [1, 2, 3])
    max_current = 16              # A per phase, e.g. the cable

A connector is on the deepest circuit naming it (``"CP-2:1"`` before ``"CP-2"``), else on the site.
Every mistake raises :class:`adapters.config.ConfigError` naming the file, the key
(``sites.depot.circuits[1].parent``) and the reason: a parent that does not exist, circuits whose
parents form a cycle, a station in two sites or two circuits, a member that is not one of the site's
stations, a limit that is not positive, a ``min_current`` or ``failsafe_current`` above a limit it
must fit under, failsafe currents that together exceed a limit (see :func:`_check_failsafe`), an
optimizer setting out of range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from actors.device_profile import DeviceKind
from actors.sites import (
    Circuit,
    ConnectorId,
    ConnectorSettings,
    Member,
    Optimizer,
    Pacing,
    Planning,
    Policy,
    Site,
)
from actors.sites.model import PHASES
from adapters.config import ConfigError, TableReader
from adapters.modbus_config import DeviceConfig


class _Table(TableReader):
    def amount(self, name: str) -> float | None:
        """A positive number (A, W or V), or None when left out."""
        value = self.get(name, (int, float), None)
        if value is not None and not 0 < value < float("inf"):
            raise self.fail(name, f"must be a positive number, got {value!r}")
        return None if value is None else float(value)

    def amount_or(self, name: str, default: float) -> float:
        value = self.amount(name)
        return default if value is None else value


def _member(reader: TableReader, name: str, text: str, stations: tuple[str, ...]) -> Member:
    """``"CP-1"`` (a whole station) or ``"CP-1:2"`` (its connector 2), a station of the site."""
    station, colon, number = text.rpartition(":")
    if colon and number.isdigit():
        if int(number) < 1:
            raise reader.fail(name, f"{text!r}: connectors are numbered from 1")
        found = Member(station, int(number))
    else:
        found = Member(text)
    if found.station not in stations:
        raise reader.fail(name, f"{found.station!r} is not one of this site's stations")
    return found


def _limits(table: _Table, what: str) -> tuple[float | None, float | None]:
    max_current, max_power = table.amount("max_current"), table.amount("max_power")
    if max_current is None and max_power is None:
        raise table.fail("max_current", f"{what} needs max_current, max_power or both")
    return max_current, max_power


def _check_min_current(table: TableReader, limits: tuple[float | None, float | None], site: Site) -> None:
    """A circuit's limits must carry the site's ``min_current``, or nothing under it could charge."""
    max_current, max_power = limits
    if max_current is not None and site.min_current > max_current:
        raise table.fail(
            "max_current", f"{max_current:g} A is below the site's min_current ({site.min_current:g} A)"
        )
    if max_power is not None and site.min_current * site.voltage > max_power:
        raise table.fail(
            "max_power",
            f"{max_power:g} W cannot carry the site's min_current on one phase "
            f"({site.min_current:g} A x {site.voltage:g} V)",
        )


def _circuits(table: _Table, site: Site) -> tuple[Circuit, ...]:
    entries = table.get("circuits", list, [])
    if not all(isinstance(e, Mapping) for e in entries):
        raise table.fail("circuits", "must be an array of tables ([[sites.<id>.circuits]])")
    circuits: list[Circuit] = []
    where: dict[str, int] = {}
    owner: dict[Member, str] = {}
    for index, entry in enumerate(entries):
        reader = _Table(table.source, entry, table.key(f"circuits[{index}]"))
        name = reader.get("name", str, required=True)
        if name == site.id or name in where:
            raise reader.fail("name", f"{name!r} is already the name of this site or of another circuit")
        where[name] = index
        limits = _limits(reader, "a circuit")
        _check_min_current(reader, limits, site)
        if limits[0] is not None and site.failsafe_current > limits[0]:
            reason = f"{limits[0]:g} A is below the site's failsafe_current ({site.failsafe_current:g} A)"
            raise reader.fail("max_current", reason)
        members = []
        for text in reader.get("stations", list, []):
            if not isinstance(text, str):
                raise reader.fail("stations", f"must be station ids or station:connector, got {text!r}")
            member = _member(reader, "stations", text, site.stations)
            if member in owner:
                raise reader.fail("stations", f"{text!r} is already on circuit {owner[member]!r}")
            owner[member] = name
            members.append(member)
        circuits.append(Circuit(name, reader.get("parent", str, None), *limits, tuple(members)))
        reader.finish()
    for index, circuit in enumerate(circuits):
        path = [circuit.name]
        parent = circuit.parent
        while parent is not None:
            key = table.key(f"circuits[{index}].parent")
            if parent not in where:
                raise ConfigError(table.source, key, f"no circuit named {parent!r} in site {site.id!r}")
            if parent in path:
                raise ConfigError(table.source, key, f"circuits {' -> '.join([*path, parent])} form a cycle")
            path.append(parent)
            parent = circuits[where[parent]].parent
    return tuple(circuits)


def _connectors(table: _Table, site: Site) -> dict[Member, ConnectorSettings]:
    outer = table.table_of("connectors")
    settings: dict[Member, ConnectorSettings] = {}
    for text in outer.table:
        member = _member(outer, text, text, site.stations)
        reader = _Table(table.source, outer.get(text, dict), outer.key(text))
        phases = reader.get("phases", list, [1, 2, 3])
        if not phases or len(set(phases)) != len(phases) or not all(p in (1, 2, 3) for p in phases):
            raise reader.fail("phases", f"must be distinct phases among 1, 2, 3, got {phases!r}")
        max_current = reader.amount("max_current")
        if max_current is not None and max_current < site.min_current:
            raise reader.fail(
                "max_current", f"{max_current:g} A is below the site's min_current ({site.min_current:g} A)"
            )
        settings[member] = ConnectorSettings(reader.get("priority", int, 0), tuple(phases), max_current)
        reader.finish()
    return settings


def _pacing(table: _Table) -> Pacing:
    """The site actor's timing keys; each a number of seconds (A for ``deadband``)."""
    default = Pacing()
    values: dict[str, float] = {}
    for name in (f.name for f in dataclasses.fields(Pacing)):
        value = table.get(name, (int, float), getattr(default, name))
        least = 0.0 if name in ("debounce", "deadband", "min_interval") else 0.1
        if not least <= value < float("inf"):
            raise table.fail(name, f"must be a number >= {least:g}, got {value!r}")
        values[name] = float(value)
    if values["profile_validity"] < 2 * values["round_interval"]:
        raise table.fail(
            "profile_validity",
            f"must be at least twice round_interval ({values['round_interval']:g} s), or a sent limit "
            "would lapse before the round that renews it",
        )
    return Pacing(**values)


MAX_PLAN_SLOTS = 2016  # a week of 5-minute slots: the LP grows with connectors x slots


def _planning(table: _Table) -> Planning:
    """The optimizer's keys: ``optimizer``, ``peak_target`` (W), ``plan_slot`` and ``plan_horizon`` (s)."""
    mode = table.choice("optimizer", Optimizer, Optimizer.OFF)
    peak_target = table.get("peak_target", (int, float), None)
    if peak_target is not None and not 0 < peak_target < float("inf"):
        raise table.fail("peak_target", f"must be a positive number of W, got {peak_target!r}")
    slot = table.get("plan_slot", int, 900)
    if not 60 <= slot <= 86400:
        raise table.fail("plan_slot", f"must be a whole number of seconds from 60 to 86400, got {slot!r}")
    horizon = table.get("plan_horizon", int, 86400)
    if horizon < slot or horizon % slot:
        raise table.fail("plan_horizon", f"must be a whole multiple of plan_slot ({slot} s), got {horizon!r}")
    if horizon // slot > MAX_PLAN_SLOTS:
        raise table.fail(
            "plan_horizon",
            f"{horizon // slot} slots of {slot} s: at most {MAX_PLAN_SLOTS} (a longer plan_slot?)",
        )
    if mode is Optimizer.OFF and peak_target is not None:
        raise table.fail("peak_target", 'is for the optimizer: set optimizer = "fastest" or "cheapest"')
    return Planning(mode, None if peak_target is None else float(peak_target), slot, horizon // slot)


def _least_connectors(site: Site) -> dict[str, int]:
    """How many connectors each station has at least: 1, or the highest the configuration names."""
    counts = {station: 1 for station in site.stations}
    named = [*site.connectors, *(m for c in site.circuits for m in c.members)]
    for member in named:
        if member.connector is not None:
            counts[member.station] = max(counts[member.station], member.connector)
    return counts


def _check_failsafe(table: _Table, site: Site) -> None:
    """The failsafe currents of all the connectors under a level must fit its limits: they are what
    the chargers draw when the site actor cannot act (a stale meter, a lost connection, a stopped
    actor), so a sum above a limit would break the very guarantee the failsafe is for. Connectors are
    counted as the configuration knows them (at least one per station; more where it names them);
    the non-EV load is not: it is unknown then."""
    amps = site.failsafe_current
    if amps <= 0:
        return
    counts = _least_connectors(site)
    levels: list[tuple[str, str, float | None, float | None]] = [
        (site.id, "the site", site.max_current, site.max_power)
    ]
    levels += [(c.name, f"circuit {c.name!r}", c.max_current, c.max_power) for c in site.circuits]
    under: dict[str, set[str]] = {c.name: {c.name} for c in site.circuits}
    for circuit in site.circuits:
        parent = circuit.parent
        while parent is not None:
            under[parent].add(circuit.name)
            parent = next(c.parent for c in site.circuits if c.name == parent)
    for name, what, max_current, max_power in levels:
        per_phase = dict.fromkeys(PHASES, 0.0)
        watts = 0.0
        connectors = 0
        for station, count in counts.items():
            for number in range(1, count + 1):
                key = ConnectorId(station, number)
                level = site.circuit_of(key) or site.id
                if name != site.id and level not in under[name]:
                    continue
                phases = site.settings_of(key).phases
                for phase in phases:
                    per_phase[phase] += amps
                watts += amps * len(phases) * site.voltage
                connectors += 1
        if not connectors:
            continue
        worst = max(per_phase.values())
        hint = "lower failsafe_current or raise the limit"
        if max_current is not None and worst > max_current + 1e-9:
            raise table.fail(
                "failsafe_current",
                f"{connectors} connectors x {amps:g} A = {worst:g} A on a phase is above the max_current "
                f"of {what} ({max_current:g} A): {hint}",
            )
        if max_power is not None and watts > max_power + 1e-9:
            raise table.fail(
                "failsafe_current",
                f"{connectors} connectors at {amps:g} A = {watts:g} W is above the max_power of {what} "
                f"({max_power:g} W): {hint}",
            )


def _site(table: _Table, ident: str, taken: dict[str, str]) -> Site:
    stations = table.get("stations", list, required=True)
    if not stations or not all(isinstance(s, str) and s for s in stations):
        raise table.fail("stations", f"must be a non-empty list of station ids, got {stations!r}")
    for station in stations:
        if station in taken:
            raise table.fail("stations", f"{station!r} is already in site {taken[station]!r}")
        taken[station] = ident
    if len(set(stations)) != len(stations):
        raise table.fail("stations", "lists a station twice")
    max_current, max_power = _limits(table, "a site")
    voltage = table.amount_or("voltage", 230.0)
    min_current = table.amount_or("min_current", 6.0)
    if max_current is not None and min_current > max_current:
        raise table.fail(
            "min_current", f"{min_current:g} A is above the site's max_current ({max_current:g} A)"
        )
    if max_power is not None and min_current * voltage > max_power:
        reason = (
            f"{min_current:g} A x {voltage:g} V on one phase is above the site's max_power ({max_power:g} W)"
        )
        raise table.fail("min_current", reason)
    failsafe = float(table.get("failsafe_current", (int, float), min_current))
    if failsafe < 0 or 0 < failsafe < min_current:
        raise table.fail(
            "failsafe_current",
            f"must be 0 (stop) or at least min_current ({min_current:g} A), got {failsafe:g}",
        )
    if max_current is not None and failsafe > max_current:
        raise table.fail(
            "failsafe_current", f"{failsafe:g} A is above the site's max_current ({max_current:g} A)"
        )
    site = Site(
        ident,
        tuple(stations),
        max_current,
        max_power,
        voltage=voltage,
        meter=table.get("meter", str, None),
        min_current=min_current,
        policy=table.choice("policy", Policy, Policy.EQUAL),
        failsafe_current=failsafe,
    )
    site = replace(
        site,
        circuits=_circuits(table, site),
        connectors=_connectors(table, site),
        pacing=_pacing(table),
        planning=_planning(table),
    )
    _check_failsafe(table, site)
    table.finish()
    return site


def parse_sites(document: Mapping[str, Any], source: str) -> tuple[Site, ...]:
    """The sites of a parsed TOML document's ``[sites]`` table (none when it has no such table)."""
    root = _Table(source, document, "")
    sites = root.table_of("sites")
    taken: dict[str, str] = {}
    return tuple(
        _site(_Table(source, sites.get(ident, dict), sites.key(ident)), ident, taken) for ident in sites.table
    )


def check_devices(sites: tuple[Site, ...], devices: tuple[DeviceConfig, ...], source: str) -> None:
    """A site's ``meter`` that names a Modbus device names a meter, and a device's ``site`` names a site.

    A ``meter`` naming no Modbus device is allowed: an embedder may run an HTTP meter under that id.
    """
    by_id = {device.id: device for device in devices}
    for site in sites:
        device = by_id.get(site.meter or "")
        if device is not None and device.kind is not DeviceKind.METER:
            raise ConfigError(
                source, f"sites.{site.id}.meter", f"{site.meter!r} is an EVSE controller, not a meter"
            )
    names = {site.id for site in sites}
    for index, device in enumerate(devices):
        if device.binding.site is not None and device.binding.site not in names:
            raise ConfigError(
                source, f"modbus.devices[{index}].site", f"no site {device.binding.site!r} in [sites]"
            )
