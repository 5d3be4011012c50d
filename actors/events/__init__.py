"""Typed, versioned events: one frozen dataclass per stored event type, and their codec.

- :mod:`actors.events.refs`: the version-neutral value types (transaction id, id token; EVSE beside
  connector).
- :mod:`actors.events.station`, :mod:`actors.events.modbus`, :mod:`actors.events.node`,
  :mod:`actors.events.security`, :mod:`actors.events.site`, :mod:`actors.events.needs`,
  :mod:`actors.events.certificates`, :mod:`actors.events.upstream`: the event
  classes of each kind of stream.
- :mod:`actors.events.registry`: the base class, the registry, :func:`encode`, :func:`decode`,
  :func:`events_of` (the one way a committed record becomes events) and the upcasters' machinery.

Importing this package registers every class.
"""

from actors.events import certificates, modbus, needs, node, security, site, station, upstream
from actors.events.refs import IdToken, TransactionId
from actors.events.registry import (
    Event,
    EventDataError,
    UnknownEvent,
    check_upcasters,
    decode,
    encode,
    events_of,
    new_events,
    registered,
)

check_upcasters()

__all__ = [
    "Event",
    "EventDataError",
    "IdToken",
    "TransactionId",
    "UnknownEvent",
    "certificates",
    "decode",
    "encode",
    "events_of",
    "modbus",
    "needs",
    "new_events",
    "node",
    "registered",
    "security",
    "site",
    "station",
    "upstream",
]
