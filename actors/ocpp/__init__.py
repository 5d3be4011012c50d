"""The sans-I/O OCPP-J protocol core: frames, the per-connection session engine, validation.

Pure Python: no trio, no sockets, no clock reads (time comes in as ``now``, monotonic seconds).
The station actor and the WebSocket server are built on top of these names::

    session = Session(Role.CSMS)
    validator = Validator("1.6", Policy.LENIENT)
    for event in session.receive(text, now):
        if isinstance(event, CallReceived):
            try:
                accepted = validator.validate_request(event.action, event.payload)
            except OcppError as error:
                send(session.answer_error(event.unique_id, error))
            ...
"""

from actors.ocpp.errors import ErrorCode, OcppError
from actors.ocpp.frames import Call, CallError, CallResult, Frame, encode_frame, parse_frame
from actors.ocpp.repairs import DEFAULT_ALIASES, Repair
from actors.ocpp.session import (
    DEFAULT_TIMEOUT,
    BadFrame,
    CallFailed,
    CallReceived,
    CallRefused,
    CallRepeated,
    CallTimedOut,
    ErrorReceived,
    Event,
    OutgoingCall,
    ReplyDropped,
    ResultReceived,
    Role,
    Session,
    SessionCounters,
    SessionError,
)
from actors.ocpp.validation import Direction, Policy, Validated, Validator

__all__ = [
    "DEFAULT_ALIASES",
    "DEFAULT_TIMEOUT",
    "BadFrame",
    "Call",
    "CallError",
    "CallFailed",
    "CallReceived",
    "CallRefused",
    "CallRepeated",
    "CallResult",
    "CallTimedOut",
    "Direction",
    "ErrorCode",
    "ErrorReceived",
    "Event",
    "Frame",
    "OcppError",
    "OutgoingCall",
    "Policy",
    "Repair",
    "ReplyDropped",
    "ResultReceived",
    "Role",
    "Session",
    "SessionCounters",
    "SessionError",
    "Validated",
    "Validator",
    "encode_frame",
    "parse_frame",
]
