"""The pure steps of deciding one frame, shared by the station actor and ``replay --rerun``.

The station actor interleaves these steps with I/O (handlers, the transaction-id allocator, the
store); the re-run (:mod:`actors.rerun`) calls the same functions over a recorded log, so a re-run
judges exactly the code the server runs: the refusals before a CALL is answered, the record of its
repairs, the strict check of our own response, and what a reply to one of our commands decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from actors.commands import CommandRejected
from actors.events import Event
from actors.events.station import CommandCompleted
from actors.ocpp import (
    CallFailed,
    ErrorCode,
    ErrorReceived,
    OcppError,
    Repair,
    ResultReceived,
    Validated,
    Validator,
)
from actors.ocpp.dialect import Dialect
from actors.station_state import StationState

Events = list[Event]


def admit_call(
    action: str,
    payload: dict[str, Any],
    *,
    state: StationState,
    validator: Validator,
    max_connector_id: int,
    text: str | None = None,
) -> Validated:
    """The station's CALL validated (and, if lenient, repaired); raises the OcppError that refuses it.

    ``text``: the frame the payload came from, when known (it spares a valid payload the alias walk).
    """
    if state.boot_status == "Rejected" and action != "BootNotification":
        raise OcppError(ErrorCode.SECURITY_ERROR, "the station was rejected at boot; boot again first")
    checked = validator.validate_request(action, payload, text)
    # 1.6 numbers connectors by connectorId, 2.0.1 by evseId (and evse.id): one actor each.
    evse = checked.payload.get("evse")
    for name, number in (
        ("connectorId", checked.payload.get("connectorId")),
        ("evseId", checked.payload.get("evseId")),
        ("evse.id", evse.get("id") if isinstance(evse, dict) else None),
    ):
        if isinstance(number, int) and number > max_connector_id:
            raise OcppError(
                ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                f"{name} {number} is beyond this server's limit of {max_connector_id} per station",
            )
    return checked


def repairs_record(repairs: Sequence[Repair]) -> list[dict[str, Any]]:
    """The ``repairs`` field of a FrameReceived: what a lenient validation changed."""
    return [{"path": r.path, "kind": r.kind, "before": r.before, "after": r.after} for r in repairs]


def checked_response(dialect: Dialect, action: str, response: dict[str, Any]) -> dict[str, Any]:
    """Our response to ``action`` checked strictly (whatever the station's validation policy);
    raises OcppError (the schema's) when invalid."""
    return dialect.strict.validate_response(action, response).payload


@dataclass(frozen=True, slots=True)
class ReplyDecision:
    """What a station's reply to our command decides: its CommandCompleted and domain events.

    ``result`` is the validated response of an accepted reply; ``rejection`` the command's failure
    otherwise. ``completed`` lacks ``round_trip``, which only the driver's clock knows.
    """

    completed: CommandCompleted
    domain: Events
    result: dict[str, Any] | None
    rejection: CommandRejected | None


def decide_reply(
    event: ResultReceived | ErrorReceived | CallFailed,
    request: Mapping[str, Any],
    validator: Validator,
    dialect: Dialect,
) -> ReplyDecision:
    """Decide a reply to our command whose request payload was ``request``, in ``dialect``."""
    action, unique_id = event.action, event.unique_id
    if isinstance(event, ResultReceived):
        try:
            result = validator.validate_response(event.action, event.payload).payload
        except OcppError as error:
            invalid = CommandCompleted(
                action=action,
                unique_id=unique_id,
                outcome="invalid",
                code=error.code.value,
                description=error.description,
            )
            return ReplyDecision(
                invalid, [], None, CommandRejected(error.code.value, f"invalid reply: {error.description}")
            )
        completed = CommandCompleted(action=action, unique_id=unique_id, outcome="result", response=result)
        return ReplyDecision(completed, dialect.command_events(event.action, request, result), result, None)
    if isinstance(event, ErrorReceived):
        failed = CommandCompleted(
            action=action,
            unique_id=unique_id,
            outcome="error",
            code=event.code,
            description=event.description,
        )
        return ReplyDecision(failed, [], None, CommandRejected(event.code, event.description, event.details))
    malformed = CommandCompleted(
        action=action, unique_id=unique_id, outcome="malformed", code=event.error.code.value
    )
    return ReplyDecision(
        malformed, [], None, CommandRejected(event.error.code.value, event.error.description)
    )
