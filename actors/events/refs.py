"""Version-neutral value types that events carry where OCPP 1.6 and 2.0.1 differ.

- :data:`TransactionId`: 1.6 numbers a transaction with an integer the CSMS hands out, 2.0.1 with a
  string the station makes up. Events hold either, stored as is (both are msgpack-native), so an
  integer id of 1.6 reads back as the same integer and the API's transaction ids keep their shape.
- :class:`IdToken`: what identifies a driver. 1.6 has only the idTag string (``type`` None); 2.0.1
  adds its type (``ISO14443``, ``eMAID``, ``Central``, ...). Stored as ``{"id": ..., "type": ...}``.
- EVSE and connector: 2.0.1 addresses a connector as (EVSE id, connector id within that EVSE); 1.6
  has one level, the connector id. Connector-level events keep ``connector`` as 1.6 numbers it and
  carry ``evse`` beside it, None for 1.6 (the connector is then the only level, numbered station-wide
  as today). Folds key connectors by ``connector`` alone until a 2.0.1 station needs the pair.

Everything OCPP-version-specific beyond these stays in the raw frames (FrameReceived, FrameSent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["IdToken", "TransactionId"]

TransactionId = int | str
"""1.6's integer transactionId or 2.0.1's string transactionId."""


@dataclass(frozen=True, slots=True)
class IdToken:
    """A driver's token: its id and, from 2.0.1 on, its type (None for a 1.6 idTag)."""

    id: str
    type: str | None = None

    def to_data(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type}

    @classmethod
    def from_data(cls, data: object) -> IdToken:
        """The token a stored ``{"id", "type"}`` holds; ValueError when it holds something else."""
        if (type(data) is not dict and not isinstance(data, Mapping)) or not isinstance(data.get("id"), str):
            raise ValueError(f"expected an id token {{'id': str, 'type': str | None}}, got {data!r:.80}")
        kind = data.get("type")
        if kind is not None and not isinstance(kind, str):
            raise ValueError(f"an id token's type must be a string or None, got {kind!r:.80}")
        return cls(data["id"], kind)

    @classmethod
    def of_tag(cls, tag: str | None) -> IdToken | None:
        """A 1.6 idTag as a token (None stays None)."""
        return None if tag is None else cls(tag)
