"""chargeward as a local controller: each station's link to an upstream CSMS, with the log as queue.

- :mod:`actors.upstream.link`: the link actor (live forwarding, catch-up from the log, relayed commands).
- :mod:`actors.upstream.backlog`: the pure part: the link's log folded to a cursor, what is still to
  send, and the transaction-id rewriting.

The station actor reaches its link through :class:`UpstreamPort`, which the composition root
implements (``adapters.upstream_link``); the link reaches the station through the command path.
"""

from __future__ import annotations

from typing import Protocol

from actors.ocpp.dialect import Dialect
from actors.upstream.link import Forward, LinkMessage
from core.actor import ActorRef


class UpstreamPort(Protocol):
    """Where a station actor finds its upstream link."""

    reply_timeout: float  # how long a station waits for the upstream's answer

    def link(self, station_id: str, dialect: Dialect) -> ActorRef[LinkMessage]:
        """The station's link, started (for ``dialect``'s subprotocol) on first use."""
        ...


__all__ = ["Forward", "LinkMessage", "UpstreamPort"]
