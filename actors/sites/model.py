"""A site as configured: its grid connection, its circuits, the stations on them, per-connector settings.

A site is a tree: the site (the grid connection) at the root, circuits under it or under each other,
and each connector on exactly one level, the deepest that names it (a ``"CP-1:2"`` member before a
``"CP-1"`` one, the site itself when no circuit names it). Limits are per level: ``max_current`` in A
on each phase, ``max_power`` in W over all phases. The adapter (``adapters.site_config``) builds these
from the TOML file and checks them; nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

PHASES = (1, 2, 3)


class Policy(enum.StrEnum):
    """Who gets what when the limits do not let every connector have its maximum."""

    EQUAL = "equal"  # water-filling: everyone rises together until a limit or their own max stops them
    PRIORITY = "priority"  # higher priority first; equal priorities share equally
    FIFO = "fifo"  # earliest arrival first


class ConnectorId(NamedTuple):
    station: str
    connector: int


@dataclass(frozen=True, slots=True)
class Member:
    """A circuit's member: a whole station (``connector`` None) or one of its connectors."""

    station: str
    connector: int | None = None

    def __str__(self) -> str:
        return self.station if self.connector is None else f"{self.station}:{self.connector}"


@dataclass(frozen=True, slots=True)
class ConnectorSettings:
    """Per connector (or per station, for all its connectors): priority, phases used, a current cap."""

    priority: int = 0
    phases: tuple[int, ...] = PHASES  # the site's phases this connector draws on (L1..L3 as 1..3)
    max_current: float | None = None  # A per phase, e.g. the cable's rating


@dataclass(frozen=True, slots=True)
class Pacing:
    """How often the site actor decides and how it spares the stations (seconds, A)."""

    round_interval: float = 15.0  # a round at least this often, inputs changed or not
    debounce: float = 0.5  # after an input changes, wait this long for others before the round
    deadband: float = 1.0  # a rise smaller than this is held back ...
    min_interval: float = 10.0  # ... and so is one sooner than this after the connector's last send
    meter_timeout: float = 10.0  # a grid meter silent this long is stale: failsafe currents
    profile_validity: float = 300.0  # a sent limit lapses after this (to the failsafe) unless renewed


class Optimizer(enum.StrEnum):
    """Whether and how a site plans for charging needs (``actors.sites.planning``)."""

    OFF = "off"  # every connector gets the instantaneous allocation, needs or not
    FASTEST = "fastest"  # needs met as early as the limits allow
    CHEAPEST = "cheapest"  # needs met at the lowest cost against the site's price curve


@dataclass(frozen=True, slots=True)
class Planning:
    """The site's optimizer settings: its mode, peak target and horizon."""

    mode: Optimizer = Optimizer.OFF
    peak_target: float | None = None  # W over all phases, EV plus non-EV load, averaged over a slot
    slot: int = 900  # s: the plan's resolution (slots are aligned to multiples of it)
    slots: int = 96  # how many slots it looks ahead


@dataclass(frozen=True, slots=True)
class Circuit:
    name: str
    parent: str | None = None  # another circuit's name; None: directly under the site
    max_current: float | None = None
    max_power: float | None = None
    members: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    stations: tuple[str, ...]
    max_current: float | None = None  # A per phase at the grid connection
    max_power: float | None = None  # W over all phases
    voltage: float = 230.0  # V phase to neutral, to convert W and A
    meter: str | None = None  # the device measuring the connection, non-EV load included
    min_current: float = 6.0  # below this a connector is paused (0 A), never starved
    policy: Policy = Policy.EQUAL
    failsafe_current: float = 6.0  # A per connector while the site is not managed
    circuits: tuple[Circuit, ...] = ()
    connectors: Mapping[Member, ConnectorSettings] = field(default_factory=dict)
    pacing: Pacing = field(default_factory=Pacing)
    planning: Planning = field(default_factory=Planning)

    # Which circuit names each member (the first for a connector, the last for a whole station, as
    # circuit_of reads them), built once: a round asks for every connector.
    _on: Mapping[Member, str] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        on: dict[Member, str] = {}
        for circuit in self.circuits:
            for member in circuit.members:
                if member.connector is None or member not in on:
                    on[member] = circuit.name
        object.__setattr__(self, "_on", on)

    def circuit_of(self, connector: ConnectorId) -> str | None:
        """The deepest level naming ``connector`` (its circuit's name), None for the site itself."""
        found = self._on.get(Member(connector.station, connector.connector))
        return found if found is not None else self._on.get(Member(connector.station))

    def settings_of(self, connector: ConnectorId) -> ConnectorSettings:
        exact = self.connectors.get(Member(connector.station, connector.connector))
        if exact is not None:
            return exact
        return self.connectors.get(Member(connector.station), ConnectorSettings())
