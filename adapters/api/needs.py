"""Charging needs and site prices over HTTP: what the optimizer plans from.

==============================================================  =====================================
POST   /api/stations/{id}/connectors/{n}/charging-needs         set a need (energy Wh by departure)
GET    /api/stations/{id}/connectors/{n}/charging-needs         the need in force
DELETE /api/stations/{id}/connectors/{n}/charging-needs         clear it
PUT    /api/sites/{id}/prices                                   set the site's price curve
GET    /api/sites/{id}/prices                                   the curve in force
==============================================================  =====================================

Each change is one event appended to the log (``needs/<station>``, ``prices/<site>``; see
:mod:`actors.events.needs`) and answered once committed; reads fold the same stream. A need a 2.0.1
EV stated itself (NotifyEVChargingNeeds, source ``"ocpp"``) is held by the station's site, not in
that stream: the GET asks the site actor and answers the EV's need where the site plans from it (it
set it after the API's, and its transaction is still running), so the GET shows every need the
optimizer uses. A station is
known when it has connected once or a configured site names it (404 otherwise); a site when the
configuration has it. A body the schema refuses (energy or current not above 0, a time without its
offset) answers 422 ``invalid_request`` with every failing field in ``details``; one it cannot refuse
(a departure not in the future, a minimum above the maximum, prices out of order) 422
``invalid_need`` or ``invalid_prices`` with every reason in ``details``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from actors.charging import parse_time, wire_time
from actors.events import new_events
from actors.events.needs import (
    ChargingNeedsCleared,
    ChargingNeedsSet,
    SitePricesSet,
    needs_stream,
    prices_stream,
)
from actors.events.registry import Event, events_of
from actors.site import InspectSite
from actors.sites.needs import needs_in_force
from actors.sites.view import EV_SOURCE
from adapters.api.params import SEQUENCE_MAX, StationId
from adapters.api.problems import ApiProblem, problem, unknown_station
from adapters.api.reads import RFC3339, live_state
from core.actor import ActorBusy, ActorStopped, AskTimeout
from core.events import check_stream
from core.store import ConcurrencyConflict, StoreError

if TYPE_CHECKING:
    from adapters.csms import Csms

MAX_PRICE_STEPS = 2000  # three weeks of quarter-hours
SITE_TIMEOUT = 5.0  # s: how long a GET waits for the site actor's answer before the API's need stands
SOURCE = "api"

router = APIRouter(prefix="/api", tags=["charging needs"])
# The writes take the command scope: they change what stations are sent.
writes = APIRouter(prefix="/api", tags=["charging needs"])

Connector = Annotated[int, Path(ge=1, le=SEQUENCE_MAX, description="the connector (1 and up)")]
SiteId = Annotated[
    str, Path(min_length=1, max_length=255, description="a configured site", examples=["depot"])
]


class NeedsBody(BaseModel):
    energy_wh: float = Field(
        gt=0, allow_inf_nan=False, description="energy the vehicle needs, Wh", examples=[20000]
    )
    departure: str = Field(
        pattern=RFC3339,
        description="when the vehicle leaves: RFC 3339 with its offset, in the future",
        examples=["2030-01-01T07:00:00Z"],
        json_schema_extra={"format": "date-time"},
    )
    max_current: float = Field(
        gt=0, allow_inf_nan=False, description="the most it may draw, A per phase", examples=[16]
    )
    min_current: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="below this it is paused, A (default: the site's min_current)",
    )


class Need(BaseModel):
    station_id: str
    connector: int
    energy_wh: float
    departure: str
    max_current: float
    min_current: float | None = None
    source: str


class PriceStep(BaseModel):
    start: str = Field(
        pattern=RFC3339,
        description="RFC 3339 with its offset",
        examples=["2026-11-28T00:00:00Z"],
        json_schema_extra={"format": "date-time"},
    )
    price: float = Field(
        allow_inf_nan=False, description="per kWh, from start until the next step", examples=[0.25]
    )


class PricesBody(BaseModel):
    prices: list[PriceStep] = Field(
        min_length=1,
        max_length=MAX_PRICE_STEPS,
        description="steps in order of start; the first holds before it too",
    )
    currency: str | None = Field(default=None, max_length=16, examples=["EUR"])


class Prices(BaseModel):
    site_id: str
    prices: list[PriceStep]
    currency: str | None = None


def _csms(request: Request) -> Csms:
    csms: Csms = request.app.state.csms
    return csms


async def _known_station(csms: Csms, station_id: str) -> None:
    if any(station_id in site.stations for site in csms.config.sites):
        return
    if station_id not in (await live_state(csms)).stations:
        raise unknown_station(station_id)


def _known_site(csms: Csms, site_id: str) -> None:
    if not any(site.id == site_id for site in csms.config.sites):
        raise ApiProblem(404, "unknown_site", f"no site {site_id!r} in the configuration")


def _stream(kind: str, ident: str) -> str:
    try:
        return check_stream(kind)
    except ValueError:
        raise ApiProblem(404, "not_found", f"{ident!r} cannot name a stream") from None


async def _read(csms: Csms, stream: str) -> tuple[list[Event], int]:
    """The stream's events and its version."""
    try:
        records = await csms.store.read_stream(stream)
    except StoreError as error:
        raise ApiProblem(503, "store_unavailable", str(error), headers={"Retry-After": "1"}) from None
    events = [event for record in records for event in events_of(record)]
    return events, records[-1].sequence if records else 0


async def _append(csms: Csms, stream: str, event: Event, version: int) -> None:
    try:
        await csms.store.append(
            new_events(stream, [event], csms.runtime.clock.wall()), expected={stream: version}
        )
    except ConcurrencyConflict:
        raise ApiProblem(409, "conflict", "changed by another request at the same time: try again") from None
    except StoreError as error:
        raise ApiProblem(503, "not_recorded", str(error), headers={"Retry-After": "1"}) from None


def _time(text: str, field: str, reasons: list[str]) -> datetime | None:
    moment = parse_time(text)
    if moment is None or moment.tzinfo is None:
        reasons.append(f"{field}: not an RFC 3339 time with its offset: {text!r}")
        return None
    return moment


def _need(event: ChargingNeedsSet) -> dict[str, Any]:
    return Need(
        station_id=event.station,
        connector=event.connector,
        energy_wh=event.energy_wh,
        departure=event.departure,
        max_current=event.max_current,
        min_current=event.min_current,
        source=event.source,
    ).model_dump()


NEEDS = "/stations/{station_id}/connectors/{connector}/charging-needs"


@writes.post(
    NEEDS,
    status_code=201,
    response_model=Need,
    responses={
        400: problem("the body is not JSON"),
        404: problem("no such station (unknown_station)"),
        409: problem("changed by a request at the same time (conflict)"),
        422: problem("values that cannot make a need (invalid_need, every reason in details)"),
        503: problem("the event store could not record it (not_recorded)"),
    },
)
async def set_charging_needs(
    request: Request, station_id: StationId, connector: Connector, body: NeedsBody
) -> dict[str, Any]:
    """Set what the vehicle on the connector needs: energy by departure, at most max_current. It
    replaces the connector's need in force; the site's optimizer plans from it."""
    csms = _csms(request)
    await _known_station(csms, station_id)
    # The schema has checked types, signs and the time's form; what it cannot say is checked here.
    reasons: list[str] = []
    departure = _time(body.departure, "departure", reasons)
    if departure is not None and departure <= csms.runtime.clock.wall():
        reasons.append(f"departure: must be in the future, got {body.departure}")
    if body.min_current is not None and body.min_current > body.max_current:
        reasons.append(f"min_current: {body.min_current} is above max_current {body.max_current}")
    if reasons:
        raise ApiProblem(422, "invalid_need", "; ".join(reasons), details=reasons)
    assert departure is not None
    stream = _stream(needs_stream(station_id), station_id)
    _, version = await _read(csms, stream)
    event = ChargingNeedsSet(
        station=station_id,
        connector=connector,
        energy_wh=float(body.energy_wh),
        departure=wire_time(departure),
        max_current=float(body.max_current),
        min_current=None if body.min_current is None else float(body.min_current),
        source=SOURCE,
    )
    await _append(csms, stream, event, version)
    return _need(event)


@router.get(
    NEEDS,
    response_model=Need,
    responses={404: problem("no such station (unknown_station) or no need set (no_need)")},
)
async def get_charging_needs(request: Request, station_id: StationId, connector: Connector) -> dict[str, Any]:
    """The need in force on the connector: set over this API, or stated by a 2.0.1 EV (source
    ``ocpp``) where the station's site plans from that one."""
    csms = _csms(request)
    await _known_station(csms, station_id)
    from_ev = await _ev_need(csms, station_id, connector)
    if from_ev is not None:
        return from_ev
    events, _ = await _read(csms, _stream(needs_stream(station_id), station_id))
    held = needs_in_force(events).get(connector)
    if held is None:
        raise ApiProblem(404, "no_need", f"no charging need set on {station_id} connector {connector}")
    return _need(held)


async def _ev_need(csms: Csms, station_id: str, connector: int) -> dict[str, Any] | None:
    """The EV's own need on the connector, as the station's site holds it, if the site plans from it
    (None: no site, no such need, or the site actor did not answer; the API's need then stands)."""
    site = next((s.id for s in csms.config.sites if station_id in s.stations), None)
    ref = None if site is None else csms.sites.get(site)
    if ref is None:
        return None
    try:
        state: dict[str, Any] = await ref.ask(InspectSite, timeout=SITE_TIMEOUT)
    except (AskTimeout, ActorBusy, ActorStopped):
        return None
    for need in state.get("needs", ()):
        if (need["station"], need["connector"], need["source"]) == (station_id, connector, EV_SOURCE):
            return Need(
                station_id=station_id,
                connector=connector,
                energy_wh=need["energy_wh"],
                departure=need["departure"],
                max_current=need["max_current"],
                min_current=need.get("min_current"),
                source=EV_SOURCE,
            ).model_dump()
    return None


@writes.delete(
    NEEDS,
    status_code=204,
    response_class=Response,
    responses={
        404: problem("no such station (unknown_station) or no need set (no_need)"),
        409: problem("changed by a request at the same time (conflict)"),
        503: problem("the event store could not record it (not_recorded)"),
    },
)
async def clear_charging_needs(request: Request, station_id: StationId, connector: Connector) -> Response:
    """Clear the connector's need: the optimizer stops planning for it."""
    csms = _csms(request)
    await _known_station(csms, station_id)
    stream = _stream(needs_stream(station_id), station_id)
    events, version = await _read(csms, stream)
    if connector not in needs_in_force(events):
        raise ApiProblem(404, "no_need", f"no charging need set on {station_id} connector {connector}")
    await _append(
        csms, stream, ChargingNeedsCleared(station=station_id, connector=connector, source=SOURCE), version
    )
    return Response(status_code=204)


@writes.put(
    "/sites/{site_id}/prices",
    response_model=Prices,
    responses={
        400: problem("the body is not JSON"),
        404: problem("no such site in the configuration (unknown_site)"),
        409: problem("changed by a request at the same time (conflict)"),
        422: problem("a curve that cannot be used (invalid_prices, every reason in details)"),
        503: problem("the event store could not record it (not_recorded)"),
    },
)
async def set_prices(request: Request, site_id: SiteId, body: PricesBody) -> dict[str, Any]:
    """Set the site's price curve (steps of a price per kWh, each until the next); it replaces the
    curve in force. The optimizer's cheapest mode plans against it."""
    csms = _csms(request)
    _known_site(csms, site_id)
    reasons: list[str] = []
    steps: list[dict[str, Any]] = []
    previous: datetime | None = None
    for i, step in enumerate(body.prices):
        start = _time(step.start, f"prices[{i}].start", reasons)
        if start is not None:
            if previous is not None and start <= previous:
                reasons.append(f"prices[{i}].start: must be after the step before ({wire_time(previous)})")
            previous = start
            steps.append({"start": wire_time(start), "price": float(step.price)})
    if reasons:
        raise ApiProblem(422, "invalid_prices", "; ".join(reasons), details=reasons)
    stream = _stream(prices_stream(site_id), site_id)
    _, version = await _read(csms, stream)
    event = SitePricesSet(site=site_id, prices=steps, currency=body.currency)
    await _append(csms, stream, event, version)
    return {"site_id": site_id, "prices": steps, "currency": body.currency}


@router.get(
    "/sites/{site_id}/prices",
    response_model=Prices,
    responses={404: problem("no such site (unknown_site) or no prices set (no_prices)")},
)
async def get_prices(request: Request, site_id: SiteId) -> dict[str, Any]:
    """The site's price curve in force."""
    csms = _csms(request)
    _known_site(csms, site_id)
    events, _ = await _read(csms, _stream(prices_stream(site_id), site_id))
    last = next((e for e in reversed(events) if isinstance(e, SitePricesSet)), None)
    if last is None:
        raise ApiProblem(404, "no_prices", f"no prices set for site {site_id!r}")
    return {"site_id": site_id, "prices": last.prices, "currency": last.currency}
