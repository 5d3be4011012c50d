"""GET /api/upstream: a local controller's links to its upstream CSMS, one per station.

For each station that has connected since the process started: the link's state (down,
catching-up, live), its cursor (the last sequence of the station's stream the upstream is done
with), the backlog (station calls in the log still to send, when the oldest was recorded and its age),
the link's flaps and its last error. ``GET /api/upstream/{station_id}/events`` reads the link's own
stream (``upstream/<id>``): what the upstream answered, the transaction ids it assigned, the
commands it relayed, the link's ups and downs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from actors.upstream.link import LinkStatus
from adapters.api.models import EventPage
from adapters.api.params import SEQUENCE_MAX, Limit, StationId
from adapters.api.problems import ApiProblem, problem
from adapters.event_json import record_to_json

if TYPE_CHECKING:
    from adapters.csms import Csms

router = APIRouter(prefix="/api/upstream", tags=["upstream"])


class UpstreamLinkView(BaseModel):
    station_id: str
    state: str = Field(description="down | catching-up | live")
    url: str | None = Field(description="the upstream WebSocket of this station, once dialled")
    cursor: int = Field(description="the station stream's sequence up to which the upstream is done")
    backlog: int | None = Field(
        description="station calls in the log still to send, as the upstream will get them (a heartbeat "
        "or a connector's status only as the latest, no Authorize after the fact): counted when the link "
        "last read the log and kept up to date since (None: not counted yet)"
    )
    oldest: str | None = Field(description="when the oldest of them was recorded")
    age: float | None = Field(
        description="seconds since the oldest of them was recorded, by this server's clock (what the "
        "chargeward_upstream_backlog_age_seconds metric and its alert read; None: nothing waits)"
    )
    flaps: int = Field(description="times the open link was lost")
    sent: int = Field(description="calls sent from the log since the process started")
    last_error: str | None


class UpstreamList(BaseModel):
    configured: bool = Field(description="whether [upstream] is set (chargeward is a local controller)")
    url: str | None
    stations: list[UpstreamLinkView]


def view(status: LinkStatus, now: datetime) -> dict[str, Any]:
    return {
        "station_id": status.station_id,
        "state": status.state,
        "url": status.url,
        "cursor": status.cursor,
        "backlog": status.backlog,
        "oldest": status.oldest.isoformat() if status.oldest is not None else None,
        "age": max(0.0, (now - status.oldest).total_seconds()) if status.oldest is not None else None,
        "flaps": status.flaps,
        "sent": status.sent,
        "last_error": status.last_error,
    }


@router.get("", response_model=UpstreamList, summary="Every station's upstream link")
async def links(request: Request) -> dict[str, Any]:
    csms: Csms = request.app.state.csms
    if csms.upstream is None:
        return {"configured": False, "url": None, "stations": []}
    found = [await csms.upstream.status(station_id) for station_id in csms.upstream.stations()]
    now = csms.runtime.clock.wall()
    return {
        "configured": True,
        "url": csms.upstream.options.url,
        "stations": [view(status, now) for status in found if status is not None],
    }


@router.get(
    "/{station_id}/events",
    response_model=EventPage,
    summary="The station's upstream stream: answers, mapped transaction ids, relayed commands",
    responses={404: problem("no upstream link has recorded anything for this station")},
)
async def link_events(
    request: Request,
    station_id: StationId,
    after: Annotated[int, Query(ge=0, le=SEQUENCE_MAX, description="stream sequence to start after")] = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    store = request.app.state.csms.store
    stream = f"upstream/{station_id}"
    version = await store.stream_version(stream)
    if version == 0:
        raise ApiProblem(404, "unknown_station", f"no upstream link has recorded anything for {station_id}")
    records = await store.read_stream(stream, after=after, limit=limit)
    last = records[-1].sequence if records else after
    return {"events": [record_to_json(r) for r in records], "next_after": last if version > last else None}
