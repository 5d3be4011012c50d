"""What a version of OCPP-J says about its actions: who may start which, and how errors are spelled.

One :class:`ActionTable` per version (``actors.ocpp.v16.actions``, ``actors.ocpp.v201.actions``).
The session engine refuses a CALL by it: an action the version does not have is NotImplemented
("not known by receiver"), one the peer's role may not start is NotSupported ("recognized but not
supported"), as both versions define them. Nothing here compares version strings: what differs
between versions is data in the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from actors.ocpp.errors import ErrorCode


@dataclass(frozen=True, slots=True, eq=False)
class ActionTable:
    """One OCPP version's actions by who may start them, its subprotocol and error spellings."""

    version: str  # as the ``ocpp`` package and the docs name it: "1.6", "2.0.1"
    subprotocol: str  # the WebSocket subprotocol: "ocpp1.6", "ocpp2.0.1"
    station_initiated: frozenset[str]
    csms_initiated: frozenset[str]
    # CALLERROR codes whose wire spelling differs from :class:`ErrorCode`'s (1.6) one.
    error_spellings: Mapping[ErrorCode, str] = field(default_factory=dict)

    @property
    def actions(self) -> frozenset[str]:
        return self.station_initiated | self.csms_initiated

    def spell(self, code: ErrorCode) -> str:
        """The wire spelling of ``code`` in this version."""
        return self.error_spellings.get(code, code.value)
