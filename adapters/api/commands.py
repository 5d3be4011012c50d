"""POST /api/stations/{station_id}/commands/{Action}: one operation per CSMS-initiated OCPP action.

One route per action (rather than one route with an ``{action}`` parameter) lets /openapi.json
carry each action's own request and reply schema, so the docs page shows operators exactly what
to send and schemathesis generates payloads that reach the station. There is one route for each
action of either version (1.6 and 2.0.1; an action both have documents both schemas): an action that
neither version has has no route, and one the station's own version (the dialect of its last
connection) does not have answers 404 ``not_in_version``.

The body is the OCPP payload, camelCase, exactly as it goes on the wire; it is checked with the
strict validator of the station's version (422 ``invalid_payload`` with the validator's message)
before anything is sent; a certificate in InstallCertificate or CertificateSigned must parse as one
(``adapters.api.certificate_payloads``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import trio
from fastapi import APIRouter, Request

from actors.commands import (
    Command,
    CommandNotRecorded,
    CommandRejected,
    CommandSuperseded,
    CommandTimedOut,
    InvalidCommand,
    OutboxFull,
    StationOffline,
    UnknownStation,
)
from actors.ocpp import Direction, OcppError
from actors.ocpp.dialect import Dialect
from actors.ocpp.versions import DIALECTS, V16, by_version
from adapters.api.certificate_payloads import certificate_problem
from adapters.api.command_schemas import (
    INT64_MAX,
    INT64_MIN,
    documented_schema,
    numbers_as_schema,
    openapi_schema,
)
from adapters.api.json_body import JSONBody
from adapters.api.params import StationId, station_stream
from adapters.api.problems import ApiProblem, problem
from adapters.event_json import to_json
from core.actor import ActorBusy, ActorStopped

if TYPE_CHECKING:
    from adapters.csms import Csms

MAX_BODY = 1 << 20  # bytes; a full SendLocalList of thousands of id tags fits, a runaway upload does not
# Objects and arrays in objects: the deepest 1.6 payload (SetChargingProfile) nests 5 levels. A deeper
# body is refused before the schema checks and the number walks, which recurse.
MAX_DEPTH = 32

router = APIRouter(prefix="/api/stations/{station_id}/commands", tags=["commands"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: problem(
        "no station with this id has ever connected (unknown_station), or the station's OCPP version "
        "has no such command (not_in_version)"
    ),
    409: problem(
        "station not connected (station_offline), a newer command replaced it (superseded), or the "
        "payload is the other OCPP version's (wrong_version: the station speaks another)"
    ),
    413: problem(f"the body is larger than {MAX_BODY} bytes (too_large)"),
    415: problem("the body is not declared as application/json"),
    422: problem(
        "the body is not a JSON object (invalid_request) or not valid for the action (invalid_payload)"
    ),
    429: problem("too many commands already queued for this station (outbox_full); see Retry-After"),
    502: problem("the station answered with a CALLERROR (call_error): see code, description and details"),
    503: problem("the event store could not record the command or its reply (not_recorded); see Retry-After"),
    504: problem("the station did not answer within its call timeout (timeout)"),
}


async def _payload(request: Request) -> dict[str, Any]:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiProblem(415, "unsupported_media_type", "send the OCPP payload as application/json")
    body = bytearray()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY:
            body += chunk
        elif size > 16 * MAX_BODY:
            break  # stop draining: the connection closes after the answer
    if size > MAX_BODY:
        # Drained (up to a bound) rather than cut off, so the client is still reading when we answer.
        raise ApiProblem(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: nesting deeper than the parser goes
        raise ApiProblem(422, "invalid_request", f"body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ApiProblem(422, "invalid_request", "body must be a JSON object: the OCPP payload")
    if _depth(payload) > MAX_DEPTH:
        raise ApiProblem(422, "invalid_request", f"body is nested deeper than {MAX_DEPTH} levels")
    return payload


def _depth(value: Any) -> int:
    """How deep objects and arrays nest in ``value`` (an object of scalars is 1), without recursing."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        pending.extend((child, level + 1) for child in children)
    return deepest


def _out_of_range(value: Any, path: str = "$") -> str | None:
    """The path of the first integer the event log could not store, if any."""
    if isinstance(value, int) and not isinstance(value, bool):
        return None if INT64_MIN <= value <= INT64_MAX else path
    if isinstance(value, dict):
        items: Any = ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    return next((bad for sub, v in items if (bad := _out_of_range(v, sub)) is not None), None)


def dialect_of(csms: Csms, station_id: str) -> Dialect:
    """The dialect of the station's current (or last) connection; 1.6 for a station never seen."""
    found = csms.fleet.dialect_of(station_id)
    if found is not None:
        return found
    view = csms.live.state.stations.get(station_id)
    return by_version(view.ocpp_version) if view is not None and view.ocpp_version else V16


def _version_it_fits(action: str, payload: dict[str, Any], station: Dialect) -> str | None:
    """The other OCPP version whose ``action`` schema ``payload`` matches, if any."""
    for dialect in DIALECTS.values():
        if dialect is station or action not in dialect.actions.csms_initiated:
            continue
        try:
            dialect.strict.validate_request(
                action, numbers_as_schema(payload, openapi_schema(action, Direction.REQUEST, dialect.version))
            )
        except OcppError:
            continue
        return dialect.version
    return None


async def send_command(csms: Csms, station_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate, send and wait for the committed reply; every failure as its :class:`ApiProblem`."""
    station_stream(station_id)  # 404 for an id no station can have, before anything is asked
    dialect = dialect_of(csms, station_id)
    if action not in dialect.actions.csms_initiated:
        message = f"{action} is not an OCPP {dialect.version} command (the version {station_id} speaks)"
        raise ApiProblem(404, "not_in_version", message)
    payload = numbers_as_schema(payload, openapi_schema(action, Direction.REQUEST, dialect.version))
    try:
        dialect.strict.validate_request(action, payload)
    except OcppError as error:
        other = _version_it_fits(action, payload, dialect)
        if other is not None:
            message = f"this is an OCPP {other} {action}; station {station_id} speaks {dialect.version}"
            raise ApiProblem(409, "wrong_version", message, details={"path": error.path}) from None
        raise ApiProblem(422, "invalid_payload", error.description, details={"path": error.path}) from None
    if (found := certificate_problem(action, payload)) is not None:
        raise ApiProblem(422, "invalid_payload", f"{action} request: {found[1]}", details={"path": found[0]})
    if (path := _out_of_range(payload)) is not None:
        message = f"{action} request: {path} is outside the 64-bit integer range"
        raise ApiProblem(422, "invalid_payload", message, details={"path": path})
    with command_problems():
        reply = await csms.station(station_id).call(Command(action, payload))
    return reply


@contextmanager
def command_problems() -> Iterator[None]:
    """Every way a command can fail, as its :class:`ApiProblem` (see the module doc's table)."""
    try:
        yield
    except UnknownStation as error:
        raise ApiProblem(404, "unknown_station", str(error)) from None
    except (StationOffline, ActorStopped) as error:
        raise ApiProblem(409, "station_offline", str(error)) from None
    except CommandSuperseded as error:
        raise ApiProblem(409, "superseded", str(error)) from None
    except InvalidCommand as error:
        raise ApiProblem(422, "invalid_payload", str(error)) from None
    except (OutboxFull, ActorBusy) as error:
        raise ApiProblem(429, "outbox_full", str(error), headers={"Retry-After": "1"}) from None
    except CommandNotRecorded as error:  # the event store failed; the command may be retried soon
        raise ApiProblem(503, "not_recorded", str(error), headers={"Retry-After": "1"}) from None
    except CommandRejected as error:
        raise ApiProblem(
            502,
            "call_error",
            str(error),
            code=error.code,
            description=error.description,
            details=to_json(error.details),
        ) from None
    except (CommandTimedOut, trio.TooSlowError) as error:
        raise ApiProblem(504, "timeout", str(error) or "the station did not answer in time") from None


def _versions(action: str) -> tuple[str, ...]:
    return tuple(d.version for d in reversed(DIALECTS.values()) if action in d.actions.csms_initiated)


def _reply_schema(action: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "station_id": {"type": "string"},
            "action": {"type": "string", "enum": [action]},
            "payload": documented_schema(action, Direction.RESPONSE, _versions(action)),
        },
        "required": ["station_id", "action", "payload"],
    }


def _add_route(action: str) -> None:
    async def endpoint(request: Request, station_id: StationId) -> JSONBody:
        csms: Csms = request.app.state.csms
        reply = await send_command(csms, station_id, action, await _payload(request))
        return JSONBody({"station_id": station_id, "action": action, "payload": to_json(reply)})

    router.add_api_route(
        f"/{action}",
        endpoint,
        methods=["POST"],
        name=f"command_{action}",
        summary=f"Send {action} to a station",
        description=(
            f"Send {action} (OCPP {' or '.join(_versions(action))}, as the station speaks) and answer "
            "with the station's reply, once it is committed."
        ),
        response_class=JSONBody,
        responses={
            200: {
                "description": f"the station's {action} reply",
                "content": {"application/json": {"schema": _reply_schema(action)}},
            },
            **ERRORS,
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": f"the {action} payload, camelCase, as it goes on the wire",
                "content": {
                    "application/json": {
                        "schema": documented_schema(action, Direction.REQUEST, _versions(action))
                    }
                },
            }
        },
    )


for _action in sorted(set().union(*(d.actions.csms_initiated for d in DIALECTS.values()))):
    _add_route(_action)
