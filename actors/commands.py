"""CSMS-initiated commands and how they can fail.

A :class:`Command` is an OCPP action with its camelCase wire payload. Embedders may also pass the
``ocpp`` package's typed call dataclasses (``ocpp.v16.call.Reset(type="Hard")``):
:func:`to_command` converts them with a plain snake-to-camel rule, never the package's own
converter, which corrupts some keys (``associated_id`` -> ``asSoCiatedId``) and recurses into
vendor data.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: The configuration key that holds the station's HTTP Basic password (OCPP 1.6 security profiles).
AUTHORIZATION_KEY = "AuthorizationKey"
#: The component and variable that hold it in OCPP 2.0.1's device model.
SECURITY_CTRLR = "SecurityCtrlr"
BASIC_AUTH_PASSWORD = "BasicAuthPassword"


@dataclass(frozen=True, slots=True)
class Command:
    """One call to a station: the action and its payload as it goes on the wire.

    ``logged``: the payload as the log keeps it (the frame and the events decided from the reply), when
    the wire payload holds a secret; the password rotation (``adapters.password_rotation``) logs the
    password's hash there.
    """

    action: str
    payload: Mapping[str, Any]
    logged: Mapping[str, Any] | None = None

    @property
    def carries_secret(self) -> bool:
        """Whether the wire payload holds a password: ChangeConfiguration AuthorizationKey (1.6), or
        SetVariables of SecurityCtrlr.BasicAuthPassword (2.0.1)."""
        if self.action == "ChangeConfiguration":
            return self.payload.get("key") == AUTHORIZATION_KEY
        if self.action == "SetVariables":
            return any(_is_password(item) for item in self.payload.get("setVariableData") or ())
        return False


def _is_password(item: Any) -> bool:
    if not isinstance(item, Mapping):
        return False
    component, variable = item.get("component"), item.get("variable")
    return (
        isinstance(component, Mapping)
        and isinstance(variable, Mapping)
        and component.get("name") == SECURITY_CTRLR
        and variable.get("name") == BASIC_AUTH_PASSWORD
    )


class CommandError(Exception):
    """A command did not get a result from the station."""


class UnknownStation(CommandError):
    """No station with this id has ever connected."""


class StationOffline(CommandError):
    """The station is known but not connected, or its connection went away during the call."""


class InvalidCommand(CommandError):
    """The payload does not match the action's request schema; nothing was sent."""


class OutboxFull(CommandError):
    """Too many commands are already queued for this station."""


class CommandSuperseded(CommandError):
    """A newer SetChargingProfile for the same connector, stack level and purpose replaced this one."""


class CommandNotRecorded(CommandError):
    """The command's events could not be stored (the event store failed), so the CSMS cannot vouch for it.

    Raised before sending when the call could not be recorded (nothing was sent), or after the
    station's reply when that reply could not be recorded (the station may have carried it out).
    Worth retrying once the store is back.
    """


class CommandTimedOut(CommandError):
    """The station did not answer within the call timeout."""


class CommandRejected(CommandError):
    """The station answered with a CALLERROR (or a malformed reply)."""

    def __init__(self, code: str, description: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = dict(details or {})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _wire(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _camel(f.name): _wire(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def to_command(call: Command | Any) -> Command:
    """A :class:`Command` from itself or from an ``ocpp.v16.call`` dataclass instance."""
    if isinstance(call, Command):
        return call
    if dataclasses.is_dataclass(call) and not isinstance(call, type):
        payload = _wire(call)
        # Vendor payloads (DataTransfer.data) stay exactly as given: strings, not re-cased.
        return Command(type(call).__name__, payload)
    raise TypeError(f"not a command: {call!r} (use Command(action, payload) or an ocpp.v16.call object)")


def coalesce_key(command: Command) -> tuple[Any, ...] | None:
    """Commands with equal non-None keys supersede each other while queued."""
    if command.action != "SetChargingProfile":
        return None
    profile = command.payload.get("csChargingProfiles") or {}
    return (
        command.action,
        command.payload.get("connectorId"),
        profile.get("stackLevel"),
        profile.get("chargingProfilePurpose"),
    )
