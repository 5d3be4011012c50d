"""Events of the security stream (``security/<station id>``): connections refused at the upgrade.

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
