"""Rotating a station's HTTP Basic password: ChangeConfiguration ``AuthorizationKey`` (OCPP 1.6).

The server makes a new random password, records its hash as offered (``credentials/<station id>``),
and sends it to the station. The station's answer decides:

- ``Accepted`` (or ``RebootRequired``: it uses the new key once it restarts): the new hash is recorded
  as accepted and is from then on the only valid one.
- ``Rejected``, ``NotSupported``, a CALLERROR, or not sent at all: recorded as refused; the old
  password stays the only valid one.
- no answer (a timeout, a lost connection): nobody knows whether the station took it, so both the
  old and the offered password stay valid until the next rotation settles it. A station is never
  locked out by a lost reply, and neither is one whose answer the server crashed before recording.

Only hashes are ever stored: the command carries the password on the wire, but its ``logged``
payload (what the frame log and the decided events keep) holds the hash. The password itself is
never returned, logged or stored; the station is the only one that knows it.
"""

from __future__ import annotations

import trio

from actors.commands import (
    AUTHORIZATION_KEY,
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


async def rotate_password(fleet: Fleet, gate: StationGate, station_id: str) -> str:
    """Give ``station_id`` a new password; the station's status (``Accepted``, ``Rejected``, ...).

    Raises what :meth:`Fleet.call` raises when there is no answer; see the module doc for what is
    valid afterwards.
    """
    password = new_password()
    hashed = await trio.to_thread.run_sync(hash_password, password)
    await gate.record_password(station_id, PasswordOffered(password_hash=hashed))
    command = Command(
        "ChangeConfiguration",
        {"key": AUTHORIZATION_KEY, "value": password},
        logged={"key": AUTHORIZATION_KEY, "value": hashed},
    )
    try:
        reply = await fleet.call(station_id, command)
    except _NOT_TAKEN as error:
        await gate.record_password(
            station_id, PasswordRefused(password_hash=hashed, outcome=type(error).__name__)
        )
        raise
    status = str(reply.get("status"))
    if status in ("Accepted", "RebootRequired"):
        await gate.record_password(station_id, PasswordAccepted(password_hash=hashed))
    else:
        await gate.record_password(station_id, PasswordRefused(password_hash=hashed, outcome=status))
    return status
