"""What the operator decides about stations: boot acceptance, id tags, validation, timeouts.

Plain frozen data; the adapters build it from the TOML config, tests build it directly. Vendor
policies apply once a station's BootNotification has named its vendor; until then the station's
own policy (or the default) applies.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from actors.ocpp import DEFAULT_TIMEOUT, Policy


class BootDecision(enum.StrEnum):
    """The BootNotification status given to a station."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


#: The ``idTagInfo.status`` values of OCPP 1.6 (AuthorizationStatus): what an id tag may be given.
ID_TAG_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")


def check_id_tag_status(status: str) -> None:
    """Raise ValueError unless ``status`` is one of :data:`ID_TAG_STATUSES`.

    A status outside them would go out in every answer that uses it, and the validator refuses such an
    answer: every Authorize would become an InternalError. So it is refused when the policy is built.
    """
    if status not in ID_TAG_STATUSES:
        raise ValueError(f"must be one of {list(ID_TAG_STATUSES)}, got {status!r}")


@dataclass(frozen=True, slots=True)
class IdTag:
    """One entry of the local authorization list."""

    status: str = "Accepted"  # one of ID_TAG_STATUSES
    expiry: datetime | None = None
    parent: str | None = None

    def __post_init__(self) -> None:
        check_id_tag_status(self.status)


@dataclass(frozen=True, slots=True)
class StationPolicy:
    """How strictly to treat one station's (or vendor's) frames, and how long to wait for it."""

    validation: Policy = Policy.LENIENT
    aliases: Mapping[str, str] = field(default_factory=dict)
    call_timeout: float = DEFAULT_TIMEOUT
    boot: BootDecision | None = None  # None: the fleet's rule for known/unknown stations
    # Smart charging: what converts A and W at this station, and a connector's limit where no profile
    # applies (A; None: no limit), for the composite schedules the server computes.
    voltage: float = 230.0
    phases: int = 3
    connector_max_a: float | None = None
    # Re-apply what the server intends the station to have (profiles, configuration, local list)
    # after each of its boots; False leaves the station alone.
    reconcile: bool = True


@dataclass(frozen=True, slots=True)
class FleetPolicy:
    """The fleet-wide rules; per-station and per-vendor policies override the default."""

    heartbeat_interval: int = 300
    unknown_stations: BootDecision = BootDecision.ACCEPTED
    default: StationPolicy = field(default_factory=StationPolicy)
    stations: Mapping[str, StationPolicy] = field(default_factory=dict)
    vendors: Mapping[str, StationPolicy] = field(default_factory=dict)
    id_tags: Mapping[str, IdTag] = field(default_factory=dict)
    unknown_id_tags: str = "Invalid"  # the status (one of ID_TAG_STATUSES) of a tag not in the list
    outbox_capacity: int = 32
    # Bytes of command payloads queued for one station: a station that stops reading cannot make
    # the server hold more than this for it (more gets OutboxFull, HTTP 429).
    outbox_bytes: int = 4 * 1024 * 1024
    mailbox_capacity: int = 64
    max_connector_id: int = 64  # each connector gets an actor: a station may not conjure thousands
    # A station's own supervisor (actors.station_tree): more than station_intensity restarts in
    # station_period seconds stops that station alone; restarts wait station_backoff seconds,
    # doubling up to station_backoff_max. A stopped station is refused for station_retry_after
    # seconds, doubling on each further failure up to station_retry_max. station_shutdown: seconds
    # a station actor may take to finish the message in hand when it is stopped.
    station_intensity: int = 5
    station_period: float = 60.0
    station_backoff: float = 0.5
    station_backoff_max: float = 30.0
    station_retry_after: float = 60.0
    station_retry_max: float = 900.0
    station_shutdown: float = 5.0
    # Stations on a site whose optimizer plans their EVs' charging needs (from the site configuration):
    # a 2.0.1 NotifyEVChargingNeeds from one is answered Processing, the schedule following as a
    # SetChargingProfile from the site's rounds.
    planned_stations: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_id_tag_status(self.unknown_id_tags)

    def for_station(self, station_id: str, vendor: str | None = None) -> StationPolicy:
        """Station policy first, then vendor policy, then the default."""
        if station_id in self.stations:
            return self.stations[station_id]
        if vendor is not None and vendor in self.vendors:
            return self.vendors[vendor]
        return self.default

    def longest_call_timeout(self, station_id: str) -> float:
        """The longest call timeout ``station_id`` may have while its vendor is not known here.

        A station's own policy decides; otherwise its vendor's (which only the station actor knows) or
        the default's, so whoever waits on the station's answer waits for the longest of those.
        """
        if station_id in self.stations:
            return self.stations[station_id].call_timeout
        return max([self.default.call_timeout, *(p.call_timeout for p in self.vendors.values())])

    def boot_decision(self, station_id: str, vendor: str | None) -> BootDecision:
        own = self.for_station(station_id, vendor).boot
        if own is not None:
            return own
        return BootDecision.ACCEPTED if station_id in self.stations else self.unknown_stations

    def id_tag_info(self, id_tag: str, now: datetime) -> dict[str, str]:
        """The ``idTagInfo`` the local list gives ``id_tag`` at ``now``."""
        entry = self.id_tags.get(id_tag)
        if entry is None:
            return {"status": self.unknown_id_tags}
        info: dict[str, str] = {"status": entry.status}
        if entry.expiry is not None:
            info["expiryDate"] = entry.expiry.isoformat().replace("+00:00", "Z")
            if entry.expiry <= now and entry.status == "Accepted":
                info["status"] = "Expired"
        if entry.parent is not None:
            info["parentIdTag"] = entry.parent
        return info
