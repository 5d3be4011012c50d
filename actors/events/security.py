"""Security events: connections refused at the upgrade (``security/<station id>``) and station
passwords offered, accepted and refused (``credentials/<station id>``).

They live in their own stream kind, not in ``station/<id>``: a refused connection must leave no trace
that the station exists (no stream, no actor, no projection row), only the security record of who
tried what from where. The station id is the one the client claimed in its URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from actors.events.registry import Event, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionRefused(Event):
    """A WebSocket upgrade for ``station_id`` from ``remote`` was refused with HTTP ``status``.

    ``reason`` is a stable kind (``bad_password``, ``no_credentials``, ``profile_too_low``, ...; see
    ``adapters.station_gate``) and ``detail`` the sentence the operator reads.
    """

    TYPE: ClassVar[str] = "ConnectionRefused"
    remote: str
    station_id: str
    reason: str
    detail: str
    status: int


# -- station passwords (``credentials/<station id>``; adapters.password_rotation) --------------------


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordOffered(Event):
    """A new password (its scrypt hash) was sent to the station; valid beside the old one until the
    station's answer is recorded."""

    TYPE: ClassVar[str] = "PasswordOffered"
    password_hash: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordAccepted(Event):
    """The station accepted the offered password: from now on the only valid one."""

    TYPE: ClassVar[str] = "PasswordAccepted"
    password_hash: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordRefused(Event):
    """The station did not take the offered password (``outcome``: its status or why it was not sent)."""

    TYPE: ClassVar[str] = "PasswordRefused"
    password_hash: str
    outcome: str
