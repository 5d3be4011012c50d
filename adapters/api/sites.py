"""Sites over HTTP: their state and decisions, and limits set by each source.

``GET /api/sites`` and ``GET /api/sites/{id}`` ask each site actor for its snapshot: the limits by
source and the one that binds, the grid meter's load per phase and the non-EV load derived from it,
the allocation per connector (the round's target and what is in force after pacing) and the last
round's time. ``PUT /api/sites/{id}/limits/{source}`` sets that source's limit (a value in A or W, or
a schedule, with a validity) and ``DELETE`` lifts it; each is an event in ``site/<id>``, committed
before the answer, and the next round applies it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from actors.charging import wire_time
from actors.events.site import SiteLimitCleared, SiteLimitSet
from actors.site import InspectSite, SetSiteLimit, SiteMessage
from actors.sites import LimitError, Source
from adapters.api.problems import ApiProblem, problem
from core.actor import ActorBusy, ActorRef, ActorStopped, AskTimeout

if TYPE_CHECKING:
    from adapters.csms import Csms

ASK_TIMEOUT = 10.0

router = APIRouter(prefix="/api/sites", tags=["sites"])
# The writes take the command scope: they change what stations are sent.
writes = APIRouter(prefix="/api/sites", tags=["sites"])

SiteId = Annotated[str, Path(description="a site's id, as in [sites.<id>]", max_length=200)]
SourceName = Annotated[
    Literal["grid_operator", "site_operator", "fleet_operator", "driver"],
    Path(description="who sets the limit; in priority order: grid_operator, site_operator, ..."),
]


class ScheduleStep(BaseModel):
    start: datetime = Field(description="RFC 3339 with an offset; the step lasts until the next one")
    value: float = Field(ge=0, allow_inf_nan=False)


class LimitBody(BaseModel):
    """A source's limit: ``value`` or ``schedule``, in A per phase or W over all phases."""

    unit: Literal["A", "W"]
    value: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    schedule: list[ScheduleStep] | None = Field(default=None, max_length=1000)
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class LimitAnswer(BaseModel):
    site: str
    source: str
    position: int = Field(description="the event's position in the log")


def _site(request: Request, site_id: str) -> ActorRef[SiteMessage]:
    csms: Csms = request.app.state.csms
    ref = csms.sites.get(site_id)
    if ref is None:
        raise ApiProblem(404, "unknown_site", f"no site {site_id!r} is configured")
    return ref


async def _ask(ref: ActorRef[SiteMessage], make: Any) -> Any:
    try:
        return await ref.ask(make, timeout=ASK_TIMEOUT)
    except (AskTimeout, ActorBusy, ActorStopped) as error:
        retry = {"Retry-After": "5"}
        raise ApiProblem(503, "site_unavailable", f"{ref.name}: {error}", headers=retry) from None


def _moment(value: datetime | None, name: str) -> str | None:
    if value is None:
        return None
    if value.utcoffset() is None:
        raise ApiProblem(422, "invalid_limit", f"{name}: give a date-time with an offset (Z or +hh:mm)")
    return wire_time(value)


@router.get("", summary="Every configured site with its state")
async def sites(request: Request) -> list[dict[str, Any]]:
    csms: Csms = request.app.state.csms
    return [await _ask(ref, InspectSite) for ref in list(csms.sites.values())]


@router.get(
    "/{site_id}",
    summary="One site: limits by source, measured load, allocation per connector, last round",
    responses={404: problem("no such site"), 503: problem("the site actor did not answer")},
)
async def site(request: Request, site_id: SiteId) -> dict[str, Any]:
    found: dict[str, Any] = await _ask(_site(request, site_id), InspectSite)
    return found


@writes.put(
    "/{site_id}/limits/{source}",
    summary="Set one source's limit on the site",
    responses={
        400: problem("the body is not JSON"),
        404: problem("no such site"),
        422: problem("the limit is not valid"),
        503: problem("the site actor did not answer"),
    },
)
async def put_limit(request: Request, site_id: SiteId, source: SourceName, body: LimitBody) -> LimitAnswer:
    ref = _site(request, site_id)
    schedule = None
    if body.schedule is not None:
        schedule = [[_moment(step.start, "schedule.start"), step.value] for step in body.schedule]
    event = SiteLimitSet(
        source=Source(source).value,
        unit=body.unit,
        value=body.value,
        schedule=schedule,
        valid_from=_moment(body.valid_from, "valid_from"),
        valid_until=_moment(body.valid_until, "valid_until"),
    )
    try:
        position = await _ask(ref, lambda reply: SetSiteLimit(event, reply))
    except LimitError as error:
        raise ApiProblem(422, "invalid_limit", str(error)) from None
    return LimitAnswer(site=site_id, source=source, position=position)


@writes.delete(
    "/{site_id}/limits/{source}",
    summary="Lift one source's limit",
    responses={404: problem("no such site"), 503: problem("the site actor did not answer")},
)
async def delete_limit(request: Request, site_id: SiteId, source: SourceName) -> LimitAnswer:
    event = SiteLimitCleared(source=Source(source).value)
    position = await _ask(_site(request, site_id), lambda reply: SetSiteLimit(event, reply))
    return LimitAnswer(site=site_id, source=source, position=position)
