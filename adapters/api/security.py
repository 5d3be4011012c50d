"""POST /api/stations/{station_id}/password: rotate a station's HTTP Basic password (admin scope).

The server makes the password, sends it to the station (ChangeConfiguration AuthorizationKey for
OCPP 1.6, SetVariables SecurityCtrlr.BasicAuthPassword for 2.0.1) and
answers with the station's status; the password itself is never shown, logged or stored, and the new
hash is valid only once the station accepted it (``adapters.password_rotation``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from adapters.api.commands import ERRORS, command_problems, dialect_of
from adapters.api.json_body import JSONBody
from adapters.api.params import StationId, station_stream
from adapters.password_rotation import rotate_password

if TYPE_CHECKING:
    from adapters.csms import Csms

router = APIRouter(prefix="/api/stations/{station_id}", tags=["security"])

_REPLY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "station_id": {"type": "string"},
        "status": {
            "type": "string",
            "description": "the station's ChangeConfiguration status (1.6) or the "
            "attributeStatus of BasicAuthPassword in its SetVariables result (2.0.1)",
        },
    },
    "required": ["station_id", "status"],
}


@router.post(
    "/password",
    response_class=JSONBody,
    summary="Rotate a station's password",
    responses={
        200: {
            "description": "the station's answer: Accepted (the new password is now the only valid one), "
            "RebootRequired (the same, from its next boot), Rejected or NotSupported (the old one stays)",
            "content": {"application/json": {"schema": _REPLY}},
        },
        **ERRORS,
    },
)
async def rotate(request: Request, station_id: StationId) -> JSONBody:
    """Send the station a new random password and record its hash once the station accepted it."""
    csms: Csms = request.app.state.csms
    station_stream(station_id)
    with command_problems():
        status = await rotate_password(csms.fleet, csms.gate, station_id, dialect_of(csms, station_id))
    return JSONBody({"station_id": station_id, "status": status})
