"""Rotating a station's HTTP Basic password: ChangeConfiguration ``AuthorizationKey`` (OCPP 1.6) or
SetVariables ``SecurityCtrlr.BasicAuthPassword`` (OCPP 2.0.1), whichever the station's dialect has.

The server makes a new random password, records its hash as offered (``credentials/<station id>``),
and sends it to the station. The station's answer decides (for 2.0.1, the ``attributeStatus`` of
the one variable set):

- ``Accepted`` (or ``RebootRequired``: it uses the new key once it restarts): the new hash is recorded
  as accepted and is from then on the only valid one.
- ``Rejected``, ``NotSupported`` (2.0.1: ``UnknownComponent``, ``UnknownVariable``,
  ``NotSupportedAttributeType``), a CALLERROR, or not sent at all: recorded as refused; the old
  password stays the only valid one.
- no answer (a timeout, a lost connection): nobody knows whether the station took it, so both the
  old and the offered password stay valid until the next rotation settles it. A station is never
  locked out by a lost reply, and neither is one whose answer the server crashed before recording.

Only hashes are ever stored: the command carries the password on the wire, but its ``logged``
payload (what the frame log and the decided events keep) holds the hash. The password itself is
never returned, logged or stored; the station is the only one that knows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from actors.commands import (
    AUTHORIZATION_KEY,
    BASIC_AUTH_PASSWORD,
    SECURITY_CTRLR,
    Command,
    CommandNotRecorded,
    CommandRejected,
    CommandSuperseded,
    InvalidCommand,
    OutboxFull,
    StationOffline,
    UnknownStation,
)
from actors.events.security import PasswordAccepted, PasswordOffered, PasswordRefused
from actors.fleet import Fleet
from actors.ocpp.dialect import Dialect
from adapters.station_gate import StationGate
from adapters.station_passwords import hash_password, new_password

#: Errors after which the station certainly did not take the new password.
_NOT_TAKEN = (
    UnknownStation,
    StationOffline,
    InvalidCommand,
    OutboxFull,
    CommandSuperseded,
    CommandRejected,
    CommandNotRecorded,
)


def _set_variable(value: str) -> dict[str, Any]:
    return {
        "setVariableData": [
            {
                "component": {"name": SECURITY_CTRLR},
                "variable": {"name": BASIC_AUTH_PASSWORD},
                "attributeValue": value,
            }
        ]
    }


def password_command(dialect: Dialect, password: str, hashed: str) -> Command:
    """The command that gives a station of ``dialect`` the new ``password`` (logged with its hash)."""
    if "ChangeConfiguration" in dialect.actions.csms_initiated:
        return Command(
            "ChangeConfiguration",
            {"key": AUTHORIZATION_KEY, "value": password},
            logged={"key": AUTHORIZATION_KEY, "value": hashed},
        )
    return Command("SetVariables", _set_variable(password), logged=_set_variable(hashed))


def reply_status(reply: Mapping[str, Any]) -> str:
    """The station's status in its reply to :func:`password_command`."""
    if "setVariableResult" in reply:
        results = reply["setVariableResult"]
        found = [r for r in results if r.get("variable", {}).get("name") == BASIC_AUTH_PASSWORD]
        return str(found[0].get("attributeStatus")) if found else "NoResult"
    return str(reply.get("status"))


async def rotate_password(fleet: Fleet, gate: StationGate, station_id: str, dialect: Dialect) -> str:
    """Give ``station_id`` (which speaks ``dialect``) a new password; the station's status
    (``Accepted``, ``Rejected``, ...).

    Raises what :meth:`Fleet.call` raises when there is no answer; see the module doc for what is
    valid afterwards.
    """
    password = new_password()
    hashed = await trio.to_thread.run_sync(hash_password, password)
    await gate.record_password(station_id, PasswordOffered(password_hash=hashed))
    command = password_command(dialect, password, hashed)
    try:
        reply = await fleet.call(station_id, command)
    except _NOT_TAKEN as error:
        await gate.record_password(
            station_id, PasswordRefused(password_hash=hashed, outcome=type(error).__name__)
        )
        raise
    status = reply_status(reply)
    if status in ("Accepted", "RebootRequired"):
        await gate.record_password(station_id, PasswordAccepted(password_hash=hashed))
    else:
        await gate.record_password(station_id, PasswordRefused(password_hash=hashed, outcome=status))
    return status
