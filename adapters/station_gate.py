"""Who may connect as which station: OCPP security profiles checked at the WebSocket upgrade.

Every check happens once, on the upgrade request, before the connection is accepted, any actor
starts or any event but a security event is written; the per-message path never sees any of it.

- Profile 0: no authentication (the station id in the URL is believed).
- Profile 1: HTTP Basic authentication, user = station id, password checked against the station's
  scrypt hash (``adapters.station_passwords``).
- Profile 2: the same over TLS (the server's ``tls_cert``; with it the whole OCPP port is ``wss://``).
- Profile 3: TLS with a client certificate verified against ``client_ca`` (by the TLS layer) whose
  subject common name is the station id (or another field: ``[server] client_id_field``, see
  :data:`CLIENT_ID_FIELDS`).

A connection is given the highest profile it proves (:meth:`StationGate.admit`) and refused when that
is below the station's configured profile (no downgrade). A client certificate naming another
station, or a Basic user that is not the station id, is refused whatever the profile. While a
station is connected, a new connection for its id that proves a lower profile than the current one
is refused (:meth:`StationGate.claim`): it can never push the authenticated station off.

A station's valid passwords are its configured ``password_hash`` until a rotation
(``adapters.password_rotation``) records others in ``credentials/<station id>``; the gate keeps what
it folded of that stream with the stream's version and, at each check, reads only what was appended
since, so a rotation recorded by another node sharing the store counts here at the next connect.

Refusals are security events (``security/<station id>``: remote address, station id, reason),
counted by reason for ``/metrics``, and count towards the remote address's failures: more than
``max_failures`` in a minute and the address is refused (429, Retry-After) for ``block_seconds``
without any further check, while every other address connects as before.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

from actors.events import events_of, new_events
from actors.events.security import ConnectionRefused, PasswordAccepted, PasswordOffered, PasswordRefused
from actors.policy import BootDecision, FleetPolicy
from adapters.station_passwords import verify_password
from core.clock import Clock
from core.store import EventStore

logger = logging.getLogger("chargeward.security")

PROFILES = (0, 1, 2, 3)
FAILURE_WINDOW = 60.0  # seconds over which an address's failures are counted
MAX_TRACKED_ADDRESSES = 10_000  # the oldest address is forgotten beyond this: memory stays bounded


@dataclass(frozen=True, slots=True)
class StationCredentials:
    """One station's security settings (``[stations."<id>"] security_profile``, ``password_hash``)."""

    profile: int | None = None  # None: the fleet's default
    password_hash: str | None = None


#: Which field of a client certificate names the station (``[server] client_id_field``): a subject
#: attribute, which the certificate must have exactly once, or a subjectAltName type, of which one
#: entry must be the station id. The values are ``SSLSocket.getpeercert()``'s names.
CLIENT_ID_FIELDS: Mapping[str, tuple[str, str]] = {
    "CN": ("subject", "commonName"),
    "serialNumber": ("subject", "serialNumber"),
    "OU": ("subject", "organizationalUnitName"),
    "UID": ("subject", "userId"),
    "SAN:DNS": ("subjectAltName", "DNS"),
    "SAN:URI": ("subjectAltName", "URI"),
}


@dataclass(frozen=True, slots=True)
class SecurityOptions:
    """The fleet's security rules: the default profile, each station's, the failure limit, and the
    client certificate field that must be the station id."""

    profile: int = 0
    stations: Mapping[str, StationCredentials] = field(default_factory=dict)
    max_failures: int = 10
    block_seconds: float = 300.0
    client_id_field: str = "CN"

    def required(self, station_id: str) -> int:
        own = self.stations.get(station_id)
        return own.profile if own is not None and own.profile is not None else self.profile

    def password_hash(self, station_id: str) -> str | None:
        own = self.stations.get(station_id)
        return own.password_hash if own is not None else None


class Refused(Exception):
    """The upgrade is refused with HTTP ``status``; ``reason`` is a stable kind, ``detail`` a sentence."""

    def __init__(
        self, status: int, reason: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = dict(headers or {})


_CHALLENGE = {"WWW-Authenticate": 'Basic realm="chargeward", charset="UTF-8"'}


@dataclass(frozen=True, slots=True)
class Presented:
    """What a client presented at the upgrade (see ``adapters.websocket.Upgrade``)."""

    remote: str  # host:port
    station_id: str
    tls: bool
    authorization: str | None  # the Authorization header
    certificate: Mapping[str, Any] | None  # the verified client certificate (``SSLSocket.getpeercert``)


def remote_host(remote: str) -> str:
    """The address part of ``host:port`` or ``[v6]:port``: what failures are counted by."""
    if remote.startswith("["):
        return remote[1 : remote.find("]")]
    return remote.rpartition(":")[0] or remote


def certificate_ids(certificate: Mapping[str, Any], id_field: str = "CN") -> list[str]:
    """The values of ``id_field`` (a key of :data:`CLIENT_ID_FIELDS`) in a certificate as
    ``getpeercert()`` returns it."""
    part, name = CLIENT_ID_FIELDS[id_field]
    if part == "subjectAltName":
        return [str(value) for kind, value in certificate.get("subjectAltName", ()) if kind == name]
    return [str(value) for rdn in certificate.get("subject", ()) for key, value in rdn if key == name]


def certificate_names(certificate: Mapping[str, Any], id_field: str, station_id: str) -> str | None:
    """None when the certificate's ``id_field`` names ``station_id``, else what it names instead."""
    found = certificate_ids(certificate, id_field)
    if CLIENT_ID_FIELDS[id_field][0] == "subjectAltName":
        return None if station_id in found else repr(found)
    return None if found == [station_id] else repr(found[0] if len(found) == 1 else found)


def basic_credentials(header: str) -> tuple[str, str]:
    """(user, password) of a ``Basic`` Authorization header; ValueError when it is not one."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise ValueError(f"expected 'Basic <base64>', got scheme {scheme!r}")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(f"the Basic credentials are not base64 of UTF-8: {error}") from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise ValueError("the Basic credentials have no ':' between user and password")
    return user, password


class FailureLimiter:
    """Failures per remote address in the last minute; an address over the limit is blocked a while."""

    def __init__(self, max_failures: int, block_seconds: float) -> None:
        self.max_failures = max_failures
        self.block_seconds = block_seconds
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._blocked: dict[str, float] = {}

    def blocked_for(self, host: str, now: float) -> float | None:
        """Seconds ``host`` stays blocked, or None."""
        until = self._blocked.get(host)
        if until is None:
            return None
        if now >= until:
            del self._blocked[host]
            return None
        return until - now

    def fail(self, host: str, now: float) -> bool:
        """Count a failure of ``host``; True when this one blocks it."""
        times = self._failures.pop(host, None) or deque()
        self._failures[host] = times  # most recently failed last
        times.append(now)
        while times and times[0] <= now - FAILURE_WINDOW:
            times.popleft()
        while len(self._failures) > MAX_TRACKED_ADDRESSES:
            self._failures.popitem(last=False)
        if len(times) > self.max_failures:
            self._blocked[host] = now + self.block_seconds
            del self._failures[host]
            if len(self._blocked) > MAX_TRACKED_ADDRESSES:
                self._blocked = {h: t for h, t in self._blocked.items() if t > now}
            return True
        return False


class StationGate:
    """Admits or refuses upgrades by the security rules; one per OCPP server."""

    def __init__(
        self, options: SecurityOptions, policy: FleetPolicy, store: EventStore, clock: Clock
    ) -> None:
        """``policy.stations`` are the known ids; ``unknown_stations = Rejected`` refuses the rest."""
        self.options = options
        self._reject_unknown = policy.unknown_stations is BootDecision.REJECTED
        self._known = policy.stations
        self.store = store
        self.clock = clock
        self.limiter = FailureLimiter(options.max_failures, options.block_seconds)
        self.refusals: dict[str, int] = {}  # by reason, for /metrics
        self._active: dict[str, tuple[int, object]] = {}  # station id -> (profile, claim) while connected
        # station id -> (credentials stream version folded, (current hash, offered hash))
        self._passwords: dict[str, tuple[int, tuple[str | None, str | None]]] = {}
        self._record_lock = trio.Lock()
        self._hashing = trio.CapacityLimiter(2)  # scrypt is memory-hard: at most two at a time

    async def admit(self, presented: Presented) -> int:
        """The security profile ``presented`` proves for its station id; raises :class:`Refused`."""
        station_id = presented.station_id
        blocked = self.limiter.blocked_for(remote_host(presented.remote), self.clock.monotonic())
        if blocked is not None:
            self._count("rate_limited")  # counted, not logged: a blocked flood must not fill the log
            raise Refused(
                429,
                "rate_limited",
                f"too many failed attempts from this address; retry in {blocked:.0f} s",
                {"Retry-After": str(max(1, round(blocked)))},
            )
        options = self.options
        if self._reject_unknown and station_id not in self._known:
            raise Refused(404, "unknown_station", f"station {station_id} is not known to this server")
        required = options.required(station_id)
        proven = 0
        if presented.certificate is not None:
            other = certificate_names(presented.certificate, options.client_id_field, station_id)
            if other is not None:
                raise Refused(
                    401,
                    "certificate_mismatch",
                    f"the client certificate's {options.client_id_field} is {other}, not {station_id!r}",
                )
            proven = 3
        if presented.authorization is not None and proven < 3:
            proven = max(proven, await self._basic(presented, required))
        if proven < required:
            if required == 3:
                raise Refused(
                    401, "no_certificate", f"station {station_id} must present its client certificate"
                )
            if presented.authorization is None:
                raise Refused(401, "no_credentials", f"station {station_id} must authenticate", _CHALLENGE)
            raise Refused(401, "profile_too_low", f"station {station_id} must connect at profile {required}")
        return proven

    async def _basic(self, presented: Presented, required: int) -> int:
        assert presented.authorization is not None
        station_id = presented.station_id
        try:
            user, password = basic_credentials(presented.authorization)
        except ValueError as error:
            raise Refused(401, "bad_credentials", str(error), _CHALLENGE) from None
        if user != station_id:
            raise Refused(401, "wrong_user", f"the Basic user {user!r} is not the station id", _CHALLENGE)
        hashes = await self.valid_hashes(station_id)
        if not hashes:
            if required in (1, 2):
                raise Refused(
                    401, "no_password", f"station {station_id} has no password configured", _CHALLENGE
                )
            return 0  # a profile 0 or 3 station that sends Basic anyway: nothing to check it against
        for stored in hashes:
            if await trio.to_thread.run_sync(verify_password, password, stored, limiter=self._hashing):
                break
        else:
            raise Refused(401, "bad_password", f"wrong password for station {station_id}", _CHALLENGE)
        return 2 if presented.tls else 1

    async def valid_hashes(self, station_id: str) -> tuple[str, ...]:
        """The hashes a password of ``station_id`` is checked against: the current one, and one offered
        to the station whose answer is not known (see ``adapters.password_rotation``)."""
        cached = self._passwords.get(station_id)
        version, state = cached or (0, (self.options.password_hash(station_id), None))
        records = await self.store.read_stream(f"credentials/{station_id}", after=version)
        for record in records:
            for event in events_of(record):
                state = _fold_password(state, event)
            version = record.sequence
        if records or (cached is None and state[0] is not None):  # ids with nothing to remember are not kept
            self._passwords[station_id] = (version, state)
        return tuple(h for h in state if h is not None)

    async def record_password(
        self, station_id: str, event: PasswordOffered | PasswordAccepted | PasswordRefused
    ) -> None:
        """Append a password event to ``credentials/<station id>``; from then on the gate applies it."""
        stream = f"credentials/{station_id}"
        async with self._record_lock:
            version = await self.store.stream_version(stream)
            await self.store.append(new_events(stream, [event], self.clock.wall()), {stream: version})
        await self.valid_hashes(station_id)  # folds it in, with whatever another node appended before

    def claim(self, station_id: str, profile: int) -> object:
        """Take the station id for a connection proven at ``profile``; release the returned claim when
        it ends. Raises :class:`Refused` while a connection of a higher profile holds the id."""
        current = self._active.get(station_id)
        if current is not None and current[0] > profile:
            raise Refused(
                409,
                "takeover",
                f"station {station_id} is connected at profile {current[0]}; "
                f"a profile {profile} connection cannot replace it",
            )
        claim = object()
        self._active[station_id] = (profile, claim)
        return claim

    def release(self, station_id: str, claim: object) -> None:
        current = self._active.get(station_id)
        if current is not None and current[1] is claim:
            del self._active[station_id]

    async def refused(self, presented: Presented, refusal: Refused) -> None:
        """Count, log and record a refusal (a blocked address's refusals are only counted)."""
        if refusal.reason == "rate_limited":
            return
        self._count(refusal.reason)
        now = self.clock.monotonic()
        blocks = self.limiter.fail(remote_host(presented.remote), now)
        logger.warning(
            "refused %s as station %r: %s (%s)%s",
            presented.remote,
            presented.station_id,
            refusal.detail,
            refusal.reason,
            f"; address blocked for {self.options.block_seconds:.0f} s" if blocks else "",
        )
        event = ConnectionRefused(
            remote=presented.remote,
            station_id=presented.station_id,
            reason=refusal.reason,
            detail=refusal.detail + (" (address now blocked)" if blocks else ""),
            status=refusal.status,
        )
        stream = f"security/{presented.station_id}"
        async with self._record_lock:  # one writer per stream in this process: versions never race
            try:
                version = await self.store.stream_version(stream)
                await self.store.append(new_events(stream, [event], self.clock.wall()), {stream: version})
            except Exception:
                logger.exception("could not record the refusal of %s", presented.remote)

    def _count(self, reason: str) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1


def _fold_password(state: tuple[str | None, str | None], event: object) -> tuple[str | None, str | None]:
    """(current, offered) after ``event``: an offer adds a hash, the answer keeps one of the two."""
    current, _offered = state
    if isinstance(event, PasswordOffered):
        return current, event.password_hash
    if isinstance(event, PasswordAccepted):
        return event.password_hash, None
    if isinstance(event, PasswordRefused):
        return current, None
    return state
