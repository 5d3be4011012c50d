"""Smart charging over HTTP: the profiles each station has installed, and composite schedules.

``GET /api/stations/{id}/charging-profiles`` lists what the live state holds per connector (folded
from accepted SetChargingProfile/ClearChargingProfile replies, transaction ends and boots by
``actors.installed_profiles``). ``GET .../connectors/{n}/composite-schedule`` computes the composite
from those profiles with ``actors.charging`` (the code ``chargeward schedule`` runs) and the station's
electrical facts from its policy (``voltage``, ``phases``, ``connector_max_a``); with
``source=station`` it also asks the station (GetCompositeSchedule, through the command path) and says
whether the two agree within the rate step: a way to find chargers that do not apply what they accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated, Any, Literal

import trio
from fastapi import APIRouter, Path, Query, Request

from actors.charging import (
    Electrical,
    InstalledProfile,
    ProfileError,
    Transaction,
    Unit,
    composite_conf,
    composite_schedule,
    convert,
    parse_set_charging_profile,
    parse_time,
)
from actors.policy import StationPolicy
from adapters.api.commands import dialect_of, send_command
from adapters.api.models import ChargingProfiles, CompositeAnswer
from adapters.api.params import StationId
from adapters.api.problems import ApiProblem, problem, unknown_station
from adapters.api.reads import RFC3339, live_state
from adapters.event_json import to_json
from projections.live import LiveState, StationView

if TYPE_CHECKING:
    from adapters.csms import Csms

MAX_DURATION = 31 * 86_400  # seconds: a month of composite, the longest window a request may ask for
RATE_STEP = Decimal("0.1")  # limits within this of each other match (what the composite rounds to)

_COMPUTING = trio.CapacityLimiter(2)  # composite schedules computed at once, in worker threads

router = APIRouter(prefix="/api/stations/{station_id}", tags=["smart charging"])


def _csms(request: Request) -> Csms:
    csms: Csms = request.app.state.csms
    return csms


def _station(state: LiveState, station_id: str) -> StationView:
    view = state.stations.get(station_id)
    if view is None:
        raise unknown_station(station_id)
    return view


def held_profiles(view: StationView) -> dict[int, list[dict[str, Any]]]:
    """The profiles installed on each connector (0: the station as a whole), as the station took them."""
    held = {0: list(view.charging_profiles)}
    for number in sorted(view.connectors):
        held[number] = list(view.connectors[number].charging_profiles)
    return held


def installed(held: dict[int, list[dict[str, Any]]]) -> list[InstalledProfile]:
    """The station's profiles (:func:`held_profiles`) parsed with the smart-charging model;
    :class:`ApiProblem` 409 naming a profile the station accepted that the model cannot use."""
    out = []
    for connector, profiles in held.items():
        for profile in profiles:
            try:
                out.append(
                    parse_set_charging_profile({"connectorId": connector, "csChargingProfiles": profile})
                )
            except ProfileError as error:
                raise ApiProblem(
                    409,
                    "unusable_profile",
                    f"connector {connector}: {error} (the station accepted it; clear or replace it)",
                ) from None
    return out


def electrical(policy: StationPolicy) -> Electrical:
    return Electrical(Decimal(repr(policy.voltage)), policy.phases)


def connector_max(policy: StationPolicy, unit: Unit) -> Fraction | None:
    """The policy's per-connector maximum (A) in ``unit``."""
    if policy.connector_max_a is None:
        return None
    amperes = Decimal(repr(policy.connector_max_a))
    return convert(amperes, Unit.A, unit, policy.phases, electrical(policy))


def _transaction(state: LiveState, view: StationView, connector: int) -> Transaction | None:
    here = view.connectors.get(connector)
    if here is None or here.transaction_id is None:
        return None
    tx = state.transactions.get(here.transaction_id)
    started = None if tx is None else parse_time(tx.started)
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return Transaction(started or datetime.now(UTC), here.transaction_id)


@router.get(
    "/charging-profiles",
    response_model=ChargingProfiles,
    responses={404: problem("no such station (unknown_station)")},
)
async def list_charging_profiles(request: Request, station_id: StationId) -> dict[str, Any]:
    """The charging profiles the station has installed, per connector (0: the station as a whole),
    each as the station accepted it (csChargingProfiles), in the order installed."""
    view = _station(await live_state(_csms(request)), station_id)
    return {
        "station_id": station_id,
        "connectors": [{"connector": n, "profiles": p} for n, p in held_profiles(view).items()],
    }


@dataclass(frozen=True, slots=True)
class _Window:
    start: datetime
    duration: int
    unit: Unit


@router.get(
    "/connectors/{connector}/composite-schedule",
    response_model=CompositeAnswer,
    responses={
        404: problem("no such station (unknown_station) or connector (unknown_connector)"),
        409: problem(
            "an installed profile the model cannot use (unusable_profile); with source=station: the "
            "station is offline (station_offline)"
        ),
        422: problem("a bad parameter (invalid_request), or a window beyond year 9999 (out_of_range)"),
        429: problem("source=station: too many commands queued for the station (outbox_full)"),
        502: problem("source=station: the station answered with a CALLERROR (call_error)"),
        503: problem("source=station: the event store could not record the command (not_recorded)"),
        504: problem("source=station: the station did not answer in time (timeout)"),
    },
)
async def get_composite_schedule(
    request: Request,
    station_id: StationId,
    connector: Annotated[int, Path(ge=0, description="0: the station as a whole")],
    duration: Annotated[int, Query(ge=1, le=MAX_DURATION, description="seconds")],
    unit: Annotated[Literal["A", "W"], Query(description="unit of the limits")] = "A",
    start: Annotated[
        str | None,
        Query(
            pattern=RFC3339,
            description="RFC 3339 time with its offset (default: now)",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    source: Annotated[
        Literal["server", "station"],
        Query(description="station: also ask the station (GetCompositeSchedule) and compare"),
    ] = "server",
) -> dict[str, Any]:
    """The connector's composite schedule computed from the profiles the server knows are installed,
    shaped like a 1.6 GetCompositeSchedule.conf; with source=station also the station's own answer and
    whether the two agree within the rate step (0.1 in the unit)."""
    csms = _csms(request)
    state = await live_state(csms)
    view = _station(state, station_id)
    if connector != 0 and connector not in view.connectors:
        raise ApiProblem(
            404, "unknown_connector", f"station {station_id!r} has reported no connector {connector}"
        )
    moment = datetime.now(UTC).replace(microsecond=0) if start is None else _rfc3339(start)
    window = _Window(moment, duration, Unit(unit))
    policy = csms.config.fleet.for_station(station_id, view.boot.get("vendor"))
    held = held_profiles(view)  # copied here: the fold replaces these lists, it never changes them
    transaction = _transaction(state, view, connector)

    def compute() -> dict[str, Any]:
        try:
            schedule = composite_schedule(
                installed(held),
                connector,
                window.start,
                window.duration,
                window.unit,
                electrical=electrical(policy),
                transaction=transaction,
                connector_max=connector_max(policy, window.unit),
            )
        except OverflowError:  # a window or a profile's times beyond what a datetime holds (year 9999)
            raise ApiProblem(
                422, "out_of_range", "the window or a profile's times fall outside years 1-9999"
            ) from None
        return composite_conf(schedule, connector)

    # Tens of milliseconds for a week of quarter-hour profiles (bench/results/schedule-micro.md): off
    # the trio thread, which serves every station, a few at a time.
    computed = await trio.to_thread.run_sync(compute, limiter=_COMPUTING)
    answer: dict[str, Any] = {"station_id": station_id, "computed": computed, "station": None, "match": None}
    if source == "station":
        requests = dialect_of(csms, station_id).requests
        asked = requests.composite(connector, duration, unit)
        reply = await send_command(csms, station_id, "GetCompositeSchedule", asked)
        answer["station"] = _plain(requests.composite_conf(reply))
        answer["match"] = matches(computed, answer["station"], window.start, duration)
    return answer


def _rfc3339(text: str) -> datetime:
    moment = parse_time(text.upper())
    if moment is None or moment.tzinfo is None:
        raise ApiProblem(422, "invalid_request", f"query.start: not an RFC 3339 time: {text!r}")
    return moment


def _plain(value: Any) -> Any:
    """The station's reply as JSON values (numbers stay numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return to_json(value)


def _steps(conf: dict[str, Any], start: datetime) -> list[tuple[float, float | None]] | None:
    """(seconds after ``start``, limit) where the conf's limit changes; None when it has no schedule."""
    schedule = conf.get("chargingSchedule")
    if not isinstance(schedule, dict):
        return None
    began = parse_time(str(conf.get("scheduleStart"))) if conf.get("scheduleStart") else start
    offset = 0.0 if began is None else (began - start) / timedelta(seconds=1)
    steps: list[tuple[float, float | None]] = [(0.0, None)]
    for period in schedule.get("chargingSchedulePeriod", []):
        steps.append((offset + float(period["startPeriod"]), float(period["limit"])))
    return steps


def _limit_at(steps: list[tuple[float, float | None]], moment: float) -> float | None:
    limit = None
    for at, value in steps:
        if at <= moment:
            limit = value
    return limit


def matches(computed: dict[str, Any], station: dict[str, Any], start: datetime, duration: int) -> bool:
    """Whether the station's composite agrees with the computed one at every instant of the window
    within :data:`RATE_STEP` (in the same unit; no limit matches only no limit)."""
    ours = _steps(computed, start)
    try:
        theirs = _steps(station, start)
    except (KeyError, TypeError, ValueError, OverflowError):  # a reply we cannot read does not match
        return False
    if ours is None or theirs is None or station.get("status") != "Accepted":
        return False
    unit_ours = computed["chargingSchedule"]["chargingRateUnit"]
    if station["chargingSchedule"].get("chargingRateUnit") != unit_ours:
        return False
    moments = sorted({at for at, _ in ours + theirs if 0 <= at < duration} | {0.0})
    for moment in moments:
        a, b = _limit_at(ours, moment), _limit_at(theirs, moment)
        if (a is None) != (b is None):
            return False
        if a is not None and b is not None and abs(a - b) > float(RATE_STEP) + 1e-9:
            return False
    return True
