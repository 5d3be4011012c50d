"""The OCPP versions chargeward speaks, as dialects found by subprotocol or version name.

``SUBPROTOCOLS`` is the server's default preference (newest first): a station offering both gets
2.0.1. A record without a subprotocol (a log written before the server spoke anything but 1.6)
reads as 1.6.
"""

from __future__ import annotations

from actors.ocpp.dialect import Dialect
from actors.ocpp.v16.dialect import DIALECT as V16
from actors.ocpp.v201.dialect import DIALECT as V201

DIALECTS: dict[str, Dialect] = {d.subprotocol: d for d in (V201, V16)}
SUBPROTOCOLS: tuple[str, ...] = tuple(DIALECTS)
_BY_VERSION: dict[str, Dialect] = {d.version: d for d in DIALECTS.values()}

__all__ = ["DIALECTS", "SUBPROTOCOLS", "V16", "V201", "by_subprotocol", "by_version"]


def by_subprotocol(subprotocol: str | None) -> Dialect:
    """The dialect of a negotiated subprotocol (1.6 for none: logs from before 2.0.1)."""
    if not subprotocol:
        return V16
    found = DIALECTS.get(subprotocol)
    if found is None:
        raise ValueError(f"unknown OCPP subprotocol {subprotocol!r}; known: {list(DIALECTS)}")
    return found


def by_version(version: str) -> Dialect:
    """The dialect of an OCPP version name ("1.6", "2.0.1")."""
    found = _BY_VERSION.get(version)
    if found is None:
        raise ValueError(f"unknown OCPP version {version!r}; known: {list(_BY_VERSION)}")
    return found
