"""The operator API's read endpoints: stations, transactions, event history and /metrics.

Reads come from the live-state projection (``projections.live``), and transactions from the
transaction index (``projections.transactions``, a table in the store), after it has caught up with
everything committed when the request arrived (bounded by :data:`FRESHNESS_WAIT`), so an operator
who just sent a command sees its effect. Lists are paged (``after`` and ``limit``), which keeps every
response, and the work of rendering it on the trio thread, small.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import trio
from fastapi import APIRouter, Path, Query, Request, Response

from actors.events import TransactionId, events_of
from actors.events.station import MeterSampled, TransactionStopped
from adapters.api.models import (
    EventPage,
    MeterSample,
    Station,
    StationPage,
    StationVariables,
    TransactionDetail,
    TransactionPage,
)
from adapters.api.params import SEQUENCE_MAX, Limit, StationId, StationLimit, station_stream
from adapters.api.problems import ApiProblem, problem, unknown_station
from adapters.event_json import record_to_json, to_json
from projections.live import LiveState, TransactionView
from projections.transactions import IndexedTransaction, TransactionIndexRunner, TransactionQuery

if TYPE_CHECKING:
    from adapters.csms import Csms

FRESHNESS_WAIT = 1.0  # seconds a read waits for the projection to catch up before answering anyway
RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
STREAM_PAGE = 500  # events read from the store at a time when scanning a station's stream


router = APIRouter(prefix="/api")
metrics_router = APIRouter()


def _csms(request: Request) -> Csms:
    csms: Csms = request.app.state.csms
    return csms


async def live_state(csms: Csms) -> LiveState:
    """The live state, caught up with the log as it was on arrival (or as far as it got in time)."""
    head = await csms.store.head()
    with trio.move_on_after(FRESHNESS_WAIT):
        await csms.live.wait_for(head)
    return csms.live.state


async def _transactions(csms: Csms) -> TransactionIndexRunner:
    """The transaction index, caught up as :func:`live_state` catches up the live state."""
    head = await csms.store.head()
    with trio.move_on_after(FRESHNESS_WAIT):
        await csms.transactions.wait_for(head)
    return csms.transactions


# -- stations ----------------------------------------------------------------------------------


@router.get("/stations", response_model=StationPage, tags=["stations"])
async def list_stations(
    request: Request,
    after: Annotated[str | None, Query(description="station id of the previous page's last entry")] = None,
    limit: StationLimit = 100,
) -> dict[str, Any]:
    """Every known station, sorted by id: connected or not, boot info, last seen, connectors."""
    state = await live_state(_csms(request))
    ids = sorted(i for i in state.stations if after is None or i > after)
    page = ids[:limit]
    return {
        "stations": [state.stations[i].as_dict() for i in page],
        "next_after": page[-1] if len(ids) > limit else None,
    }


@router.get(
    "/stations/{station_id}",
    response_model=Station,
    tags=["stations"],
    responses={404: problem("no such station")},
)
async def get_station(request: Request, station_id: StationId) -> dict[str, Any]:
    """One station: connection, boot info, last seen, connectors with status, transaction, power, energy."""
    state = await live_state(_csms(request))
    view = state.stations.get(station_id)
    if view is None:
        raise unknown_station(station_id)
    return view.as_dict()


@router.get(
    "/stations/{station_id}/variables",
    response_model=StationVariables,
    tags=["stations"],
    responses={404: problem("no such station")},
)
async def get_station_variables(request: Request, station_id: StationId) -> dict[str, Any]:
    """The components and variables a 2.0.1 station reported, with actual/target values and set results."""
    state = await live_state(_csms(request))
    view = state.stations.get(station_id)
    if view is None:
        raise unknown_station(station_id)
    return {"station_id": station_id, "variables": view.variables}


@router.get(
    "/stations/{station_id}/events",
    response_model=EventPage,
    tags=["stations"],
    responses={404: problem("no such station")},
)
async def station_events(
    request: Request,
    station_id: StationId,
    after: Annotated[int, Query(ge=0, le=SEQUENCE_MAX, description="stream sequence to start after")] = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    """The station's stream, raw frames and domain events alike, in order."""
    store = _csms(request).store
    stream = station_stream(station_id)
    if await store.stream_version(stream) == 0:
        raise unknown_station(station_id)
    records = await store.read_stream(stream, after=after, limit=limit)
    last = records[-1].sequence if records else after
    return {
        "events": [record_to_json(r) for r in records],
        "next_after": last if await store.stream_version(stream) > last else None,
    }


# -- transactions ------------------------------------------------------------------------------


def _rfc3339(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError as error:
        raise ApiProblem(422, "invalid_request", f"query.since: {error}") from None


def _started_at(tx: TransactionView) -> datetime | None:
    try:
        started = datetime.fromisoformat(tx.started)
    except ValueError:
        return None
    return started if started.tzinfo is not None else started.replace(tzinfo=UTC)


@router.get("/transactions", response_model=TransactionPage, tags=["transactions"])
async def list_transactions(
    request: Request,
    station: Annotated[str | None, Query(description="only this station's")] = None,
    active: Annotated[bool | None, Query(description="only running (true) or finished (false)")] = None,
    since: Annotated[
        str | None,
        Query(
            pattern=RFC3339,
            description="only those started at or after this RFC 3339 time (with its offset)",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(
            pattern=r"^(-?[0-9]{1,19}|s:[\s\S]{1,36})$",
            description="the previous page's next_after: an integer id, or 's:' and a string id",
        ),
    ] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Transactions by id, filtered by station, running or not, and start time: OCPP 1.6's integer
    ids in order, then OCPP 2.0.1's string ids in code-point order."""
    start = _rfc3339(since) if since is not None else None
    index = (await _transactions(_csms(request))).index
    chosen: list[TransactionView] = []
    more = False
    query = TransactionQuery(after=_cursor(after), station=station, active=active, limit=limit + 1)
    while not more:
        rows = await index.find_transactions(query)
        for row in rows:
            tx = IndexedTransaction.from_row(row).view
            if start is not None and ((started := _started_at(tx)) is None or started < start):
                continue
            if len(chosen) == limit:
                more = True
                break
            chosen.append(tx)
        if len(rows) < query.limit:
            break
        query = TransactionQuery(
            after=rows[-1]["transaction_id"], station=station, active=active, limit=query.limit
        )
    return {
        "transactions": [tx.as_dict() for tx in chosen],
        "next_after": _next_after(chosen[-1].transaction_id) if more else None,
    }


def _cursor(after: str | None) -> TransactionId | None:
    """A transaction list's ``after`` (its pattern checked): an integer id, or a string id behind ``s:``."""
    if after is None:
        return None
    return after[2:] if after.startswith("s:") else int(after)


def _next_after(transaction_id: TransactionId) -> int | str:
    return f"s:{transaction_id}" if isinstance(transaction_id, str) else transaction_id


@router.get(
    "/transactions/{transaction_id}",
    response_model=TransactionDetail,
    tags=["transactions"],
    responses={404: problem("no such transaction")},
)
async def get_transaction(
    request: Request,
    transaction_id: Annotated[
        str,
        Path(
            max_length=36,
            description="an OCPP 1.6 transaction's integer id, or an OCPP 2.0.1 station's string id",
        ),
    ],
    after: Annotated[
        int, Query(ge=0, le=SEQUENCE_MAX, description="position of the previous page's last sample")
    ] = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    """One transaction with its meter samples (the MeterSampled events naming it), oldest first."""
    csms = _csms(request)
    index = (await _transactions(csms)).index
    row = None
    if re.fullmatch(r"-?[0-9]{1,19}", transaction_id):  # 1.6's integers (a 2.0.1 id may look alike)
        row = await index.get_transaction(int(transaction_id))
    if row is None:
        row = await index.get_transaction(transaction_id)
    if row is None:
        raise ApiProblem(404, "unknown_transaction", f"no transaction {transaction_id}")
    tx = IndexedTransaction.from_row(row)
    samples, truncated = await _samples(csms, tx, after, limit)
    return {**tx.view.as_dict(), "samples": samples, "samples_truncated": truncated}


async def _samples(
    csms: Csms, indexed: IndexedTransaction, after: int, limit: int
) -> tuple[list[MeterSample], bool]:
    """Read the station's stream page by page from the transaction's start until it stops or
    ``limit`` is passed."""
    tx = indexed.view
    stream = f"station/{tx.station_id}"
    found: list[MeterSample] = []
    sequence = indexed.start_sequence - 1
    while True:
        records = await csms.store.read_stream(stream, after=sequence, limit=STREAM_PAGE)
        for record in records:
            if record.position <= after:
                continue
            for event in events_of(record):
                if isinstance(event, TransactionStopped) and event.transaction_id == tx.transaction_id:
                    return found, False
                if isinstance(event, MeterSampled) and event.transaction_id == tx.transaction_id:
                    if len(found) == limit:
                        return found, True
                    found.append(
                        MeterSample(
                            position=record.position,
                            time=record.time.isoformat(),
                            connector=event.connector,
                            samples=to_json(event.samples),
                        )
                    )
        if len(records) < STREAM_PAGE:
            return found, False
        sequence = records[-1].sequence


# -- metrics -----------------------------------------------------------------------------------


@metrics_router.get(
    "/metrics",
    tags=["metrics"],
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"},
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format, rendered off the trio thread."""
    # Imported here: adapters.metrics imports adapters.config, which imports this package.
    from adapters.metrics import render_metrics

    body, content_type = await render_metrics(_csms(request))
    return Response(body, media_type=content_type)
