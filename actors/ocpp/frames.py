"""OCPP-J frames: the three message shapes, parsed from and encoded to JSON text.

``parse_frame`` checks the envelope only (message type, arity, types of the fixed elements);
payload contents are the validator's business. Every rejection is an :class:`OcppError` with the
code the peer should get and, when it could be recovered, the unique id to answer.

Codes, following the ``ocpp`` package where it decides (``messages.unpack``) and the OCPP 1.6
definitions otherwise:

=================================================  =====================  ===========
input                                              code                   unique id
=================================================  =====================  ===========
not JSON (or NaN/Infinity, or nested too deep)     FormationViolation     none
JSON but not an array                              ProtocolError          none
empty array                                        ProtocolError          none
unique id missing or not a string                  FormationViolation     none
message type not 2, 3 or 4                         FormationViolation     recovered
wrong number of elements for the type              FormationViolation     recovered
action / error code / description not a string     FormationViolation     recovered
payload / error details not an object              FormationViolation     recovered
=================================================  =====================  ===========

The ``ocpp`` package's own ``unpack`` is not reused: it accepts any payload type, reports an unknown
message type as PropertyConstraintViolation and never recovers the id, and building its classes
costs more than these frozen dataclasses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NoReturn

from actors.ocpp.errors import ErrorCode, OcppError

CALL = 2
CALL_RESULT = 3
CALL_ERROR = 4

_ARITY = {CALL: 4, CALL_RESULT: 3, CALL_ERROR: 5}


@dataclass(frozen=True, slots=True)
class Call:
    """``[2, unique_id, action, payload]``: a request from either side."""

    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    """``[3, unique_id, payload]``: the successful answer to a Call."""

    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    """``[4, unique_id, code, description, details]``: the failed answer to a Call.

    ``code`` is kept as received (a ``str``): a peer may send a code this side does not know, and
    that must still reach the application.
    """

    unique_id: str
    code: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)


Frame = Call | CallResult | CallError


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _fail(description: str, unique_id: str | None = None, type_id: int | None = None) -> NoReturn:
    raise OcppError(ErrorCode.FORMATION_VIOLATION, description, unique_id=unique_id, message_type_id=type_id)


def parse_frame(text: str | bytes) -> Frame:
    """Parse one WebSocket text message into a frame, or raise :class:`OcppError`."""
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        _fail(f"frame is not valid JSON: {exc}")
    if not isinstance(message, list):
        raise OcppError(ErrorCode.PROTOCOL_ERROR, f"frame must be a JSON array, got {type(message).__name__}")
    if not message:
        raise OcppError(ErrorCode.PROTOCOL_ERROR, "frame is an empty array: no MessageTypeId")
    if len(message) < 2 or not isinstance(message[1], str):
        _fail("frame has no string UniqueId in second place")
    type_id, unique_id = message[0], message[1]
    if type(type_id) is not int or type_id not in _ARITY:
        _fail(f"MessageTypeId {type_id!r} is not 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR)", unique_id)
    if len(message) != _ARITY[type_id]:
        _fail(
            f"message type {type_id} takes {_ARITY[type_id]} elements, got {len(message)}",
            unique_id,
            type_id,
        )
    if type_id == CALL:
        _, _, action, payload = message
        if not isinstance(action, str):
            _fail("CALL action must be a string", unique_id, type_id)
        if not isinstance(payload, dict):
            _fail(f"CALL payload must be a JSON object, got {type(payload).__name__}", unique_id, type_id)
        return Call(unique_id, action, payload)
    if type_id == CALL_RESULT:
        payload = message[2]
        if not isinstance(payload, dict):
            _fail(
                f"CALLRESULT payload must be a JSON object, got {type(payload).__name__}",
                unique_id,
                type_id,
            )
        return CallResult(unique_id, payload)
    _, _, code, description, details = message
    if not isinstance(code, str) or not isinstance(description, str):
        _fail("CALLERROR code and description must be strings", unique_id, type_id)
    if not isinstance(details, dict):
        _fail(f"CALLERROR details must be a JSON object, got {type(details).__name__}", unique_id, type_id)
    return CallError(unique_id, code, description, details)


def encode_frame(frame: Frame) -> str:
    """Compact JSON text for ``frame`` (no spaces, UTF-8 kept as is, NaN refused)."""
    message: list[Any]
    if isinstance(frame, Call):
        message = [CALL, frame.unique_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        message = [CALL_RESULT, frame.unique_id, frame.payload]
    else:
        message = [CALL_ERROR, frame.unique_id, frame.code, frame.description, frame.details]
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
