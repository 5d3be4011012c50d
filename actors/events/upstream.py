"""Events of a station's upstream stream (``upstream/<id>``), written by its upstream link alone.

When chargeward is a local controller (``[upstream]``), each station's link to the upstream CSMS
records here what the upstream was sent and said: the answers to forwarded station calls (whose
sequences in ``station/<id>`` make the upstream cursor), the transaction ids the upstream assigned
for local ones, the commands it relayed, and the link's ups and downs. The station's own stream
keeps what the station was told; this stream keeps what the upstream was told, so the log is the
upstream queue (``actors.upstream``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from actors.events.refs import TransactionId
from actors.events.registry import OMITTED_WHEN_NONE, Event, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamConnected(Event):
    """The link's WebSocket to the upstream opened (``url`` with the station id, ``subprotocol``)."""

    TYPE: ClassVar[str] = "UpstreamConnected"
    url: str
    subprotocol: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamDisconnected(Event):
    TYPE: ClassVar[str] = "UpstreamDisconnected"
    reason: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamAnswered(Event):
    """The upstream answered the station's call recorded at ``seq`` in ``station/<id>``.

    ``unique_id``: the station's id of that call (with ``seq`` it names the frame); ``via``: "live"
    (forwarded as the station sent it; the station got this answer if it came within the reply
    timeout) or "catch-up" (sent from the log after an outage: the cursor moves to ``seq``);
    ``outcome``: "result" (with ``response``) or "error" (with ``code``, ``description``).
    """

    TYPE: ClassVar[str] = "UpstreamAnswered"
    seq: int
    action: str
    unique_id: str
    via: str
    outcome: str
    response: dict[str, Any] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    code: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    description: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamCursor(Event):
    """Every station call up to ``seq`` in ``station/<id>`` has been answered upstream or needs no
    sending (replies, refused calls, coalesced status): a catch-up starts after it."""

    TYPE: ClassVar[str] = "UpstreamCursor"
    seq: int


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionIdMapped(Event):
    """The upstream's id for the transaction the station knows by the local id: messages about it are
    sent upstream with ``upstream``, and upstream commands naming ``upstream`` reach it as ``local``."""

    TYPE: ClassVar[str] = "TransactionIdMapped"
    local: TransactionId
    upstream: TransactionId


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamCommandRelayed(Event):
    """A command from the upstream, relayed to the station, and how it ended (``outcome``: "result"
    with ``response``, or "error" with ``code`` and ``description``; what the upstream was sent)."""

    TYPE: ClassVar[str] = "UpstreamCommandRelayed"
    action: str
    unique_id: str
    outcome: str
    response: dict[str, Any] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    code: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    description: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamReplied(Event):
    """In the *station's* stream, right after a call's FrameReceived: the station was sent the
    upstream's answer (which its FrameSent holds), so the call needs no sending from the log. Part of
    the call's own append, so a live forward costs the link no append of its own."""

    TYPE: ClassVar[str] = "UpstreamReplied"
    unique_id: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamProfileHeld(Event):
    """A SetChargingProfile from the upstream for a station on a site, held as a limit the site actor
    applies instead of being sent to the station (see ``actors.upstream.profiles``).

    ``connector`` (0: every connector of the station), ``profile_id``, ``stack_level``, ``purpose``
    ("TxProfile" or "TxDefaultProfile"), ``transaction`` (local id, for a TxProfile naming one) and
    ``limit``: the fields of a ``SiteLimitSet`` (``source`` "fleet_operator", ``unit``, ``value`` or
    ``schedule``, ``valid_from``, ``valid_until``), in A per phase or W over the connector's phases.

    ``cycle``, for a profile that runs from its connector's transaction start (``Relative``, or
    ``Absolute`` without ``startSchedule``) or recurs (None: ``limit`` is exact): its schedule as
    the site evaluates it, ``{"unit", "start", "periods": [[startPeriod s, limit], ...], "duration"
    (s or None), "recurrence" (s: 86400 Daily, 604800 Weekly; None: it runs from its connector's
    transaction start), "valid_from", "valid_until"}``; ``start`` is ``startSchedule``, or when the
    profile arrived (for one that runs from a transaction's start, the start used while its connector
    has none). ``limit`` then holds what a build that does not read ``cycle`` applies: the schedule
    from ``start``, or the lowest limit of a Recurring one."""

    TYPE: ClassVar[str] = "UpstreamProfileHeld"
    connector: int
    profile_id: int
    stack_level: int
    purpose: str
    limit: dict[str, Any]
    transaction: TransactionId | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    cycle: dict[str, Any] | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamProfilesCleared(Event):
    """A ClearChargingProfile from the upstream: the held profiles matching every given criterion
    (none given: all of them) are lifted."""

    TYPE: ClassVar[str] = "UpstreamProfilesCleared"
    profile_id: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    connector: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    purpose: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    stack_level: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
