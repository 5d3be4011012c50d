"""The composite schedule of a connector: the limit that holds at each instant, as OCPP 1.6 combines profiles.

Pure: profiles, a window and the station's electrical facts in, a :class:`CompositeSchedule` out.
The rules (OCPP 1.6, 3.13 and GetCompositeSchedule), and how this module reads them where the
specification leaves room:

- A profile applies at an instant when it is valid then (``validFrom`` <= t < ``validTo``) and its
  schedule is running: from its start until ``duration`` seconds later (open-ended without one).
  The start is ``startSchedule`` for ``Absolute``; for ``Relative``, and for an ``Absolute`` profile
  without ``startSchedule`` ("relative to the start of charging"), the transaction's start, or the
  window's start when there is no transaction. A ``ChargePointMaxProfile`` caps the station whether
  or not anything charges, so without ``startSchedule`` it counts from the window's start.
  ``Recurring`` schedules start at ``startSchedule`` and again every day (``Daily``) or week
  (``Weekly``) after it, never before it; each recurrence runs for ``duration`` or until the next
  one, so a daily 22:00 schedule of 8 hours runs across midnight. A day is 86,400 s after the
  ``startSchedule`` as written (its UTC offset), not a local calendar day: across a daylight-saving
  change the recurrence stays on UTC, an hour off local time.
- Within one purpose the applicable profile with the highest ``stackLevel`` decides the instant; when
  its schedule ends (or its validity does) the next applicable one decides. ``TxDefaultProfile``s on
  connector 0 apply to every connector; one on the connector itself wins a tie of stack levels.
- ``TxProfile``s apply only while a transaction runs (from its start), and only to theirs when they
  name one (``transactionId``); where one applies it overrides the ``TxDefaultProfile``s.
- ``ChargePointMaxProfile`` (connector 0) caps the result: the limit is the lower of the two, and so
  are the phases. Connector 0's composite is the station's: its ``ChargePointMaxProfile`` alone.
- Where no profile applies the limit is the connector's maximum when one is given, else there is no
  limit (a period whose ``limit`` is None).

Limits are compared in the requested unit, converted exactly (``W = A x voltage x phases``, the
period's ``numberPhases`` or else the station's). The result is rounded for the wire only where it
cannot allow more than the profiles do: limits down to 0.1, and period boundaries that fall between
whole seconds onto the second where the lower limit holds for the whole second.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from actors.charging.model import TENTH, ChargingProfile, InstalledProfile, Kind, Purpose, Unit
from actors.charging.spans import Limit, Span, aligned, as_decimal, floored, lower, merged

US = 1_000_000  # time inside the computation: integer microseconds from the window's start
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Electrical:
    """What converts amperes and watts at one station: its line voltage and how many phases it uses."""

    voltage: Decimal = Decimal(230)
    phases: int = 3


TYPICAL = Electrical()  # 230 V, three phases: what a station is taken to be unless configured


@dataclass(frozen=True, slots=True)
class Transaction:
    """The transaction in progress on the connector: when it started, and its id when known."""

    start: datetime
    id: int | str | None = None


@dataclass(frozen=True, slots=True)
class CompositePeriod:
    """From ``start`` seconds after the schedule's start until the next period or the schedule's end."""

    start: int
    limit: Decimal | None
    phases: int


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    start: datetime
    duration: int
    unit: Unit
    periods: tuple[CompositePeriod, ...]
    min_rate: Decimal | None = None


def convert(
    limit: Fraction | Decimal, source: Unit, target: Unit, phases: int, electrical: Electrical
) -> Fraction:
    """``limit`` in ``source`` units as an exact value in ``target`` units."""
    value = Fraction(limit)
    if source is target:
        return value
    per_ampere = Fraction(electrical.voltage) * phases
    return value * per_ampere if target is Unit.W else value / per_ampere


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    limit: Fraction
    phases: int
    profile: ChargingProfile


def composite_schedule(
    installed: Sequence[InstalledProfile],
    connector: int,
    start: datetime,
    duration: int,
    unit: Unit,
    *,
    electrical: Electrical = TYPICAL,
    transaction: Transaction | None = None,
    connector_max: Fraction | Decimal | None = None,
) -> CompositeSchedule:
    """The composite schedule of ``connector`` over [``start``, ``start`` + ``duration`` s) in ``unit``.

    ``installed`` is what the station holds (every connector's, in the order installed: a later one
    wins a tie); ``connector_max`` is in ``unit``. Periods are sorted, start at whole seconds from
    ``start``, and neighbours differ.
    """
    if start.tzinfo is None:
        raise ValueError("start must be tz-aware")
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    window = duration * US
    origin = transaction.start if transaction is not None else start
    caps: list[list[_Piece]] = []
    tx: list[list[_Piece]] = []
    defaults: list[list[_Piece]] = []
    ranked = sorted(
        enumerate(installed),
        key=lambda item: (item[1].profile.stack_level, item[1].connector != 0, item[0]),
        reverse=True,
    )
    for _, held in ranked:
        profile = held.profile
        if profile.purpose is Purpose.CHARGE_POINT_MAX:
            group, floor = caps, 0
        elif connector == 0:
            continue
        elif profile.purpose is Purpose.TX_DEFAULT and held.connector in (0, connector):
            group, floor = defaults, 0
        elif profile.purpose is Purpose.TX and held.connector == connector and _ours(profile, transaction):
            assert transaction is not None
            group, floor = tx, max(0, _offset(transaction.start, start))
        else:
            continue
        anchor = start if profile.purpose is Purpose.CHARGE_POINT_MAX else origin
        pieces = list(_pieces(profile, start, window, anchor, unit, electrical, floor))
        if pieces:
            group.append(pieces)
    maximum = None if connector_max is None else Fraction(connector_max)
    spans, deciders = _sweep(caps, tx, defaults, window, maximum, electrical.phases)
    periods = [
        CompositePeriod(
            span.start // US, None if span.limit is None else as_decimal(span.limit, TENTH), span.phases
        )
        for span in merged(
            Span(s.start, s.end, floored(s.limit, Fraction(TENTH)), s.phases) for s in aligned(spans, US)
        )
    ]
    rates = [
        convert(p.schedule.min_rate, p.schedule.unit, unit, electrical.phases, electrical)
        for p in deciders
        if p.schedule.min_rate is not None
    ]
    min_rate = as_decimal(floored(max(rates), Fraction(TENTH)), TENTH) if rates else None
    return CompositeSchedule(start, duration, unit, tuple(periods), min_rate)


def _ours(profile: ChargingProfile, transaction: Transaction | None) -> bool:
    return transaction is not None and profile.transaction_id in (None, transaction.id)


def _offset(moment: datetime, start: datetime) -> int:
    return (moment - start) // _ONE_US


def _pieces(
    profile: ChargingProfile,
    start: datetime,
    window: int,
    origin: datetime,
    unit: Unit,
    electrical: Electrical,
    floor: int,
) -> Iterator[_Piece]:
    """The stretches of the window where ``profile`` runs, each with its limit in ``unit``, in order."""
    lo = max(floor, 0 if profile.valid_from is None else _offset(profile.valid_from, start))
    hi = min(window, window if profile.valid_to is None else _offset(profile.valid_to, start))
    if lo >= hi:
        return
    schedule = profile.schedule
    span = None if schedule.duration is None else schedule.duration * US
    limits = [
        (
            period.start * US,
            convert(period.limit, schedule.unit, unit, period.phases or electrical.phases, electrical),
            period.phases or electrical.phases,
        )
        for period in schedule.periods
    ]
    if profile.kind is Kind.RECURRING:
        assert profile.recurrency is not None and schedule.start is not None
        every = profile.recurrency.seconds * US
        span = every if span is None else min(span, every)
        anchors: Iterator[int] = _recurrences(_offset(schedule.start, start), every, lo, hi)
    elif profile.kind is Kind.ABSOLUTE and schedule.start is not None:
        anchors = iter([_offset(schedule.start, start)])
    else:
        anchors = iter([_offset(origin, start)])
    for anchor in anchors:
        end = hi if span is None else min(hi, anchor + span)
        for index, (begin, limit, phases) in enumerate(limits):
            a = max(lo, anchor + begin)
            b = end if index + 1 == len(limits) else min(end, anchor + limits[index + 1][0])
            if a < b:
                yield _Piece(a, b, limit, phases, profile)


def _recurrences(first: int, every: int, lo: int, hi: int) -> Iterator[int]:
    """The starts of the recurrences (``first``, then every ``every``) that may overlap [lo, hi)."""
    anchor = first + max(0, (lo - first) // every) * every
    while anchor < hi:
        yield anchor
        anchor += every


class _Cursor:
    """Walks one profile's pieces as the sweep moves forward in time."""

    __slots__ = ("index", "pieces")

    def __init__(self, pieces: list[_Piece]) -> None:
        self.pieces = pieces
        self.index = 0

    def at(self, moment: int) -> _Piece | None:
        pieces = self.pieces
        while self.index < len(pieces) and pieces[self.index].end <= moment:
            self.index += 1
        if self.index < len(pieces) and pieces[self.index].start <= moment:
            return pieces[self.index]
        return None


def _first(cursors: list[_Cursor], moment: int) -> _Piece | None:
    for cursor in cursors:
        piece = cursor.at(moment)
        if piece is not None:
            return piece
    return None


def _sweep(
    caps: list[list[_Piece]],
    tx: list[list[_Piece]],
    defaults: list[list[_Piece]],
    window: int,
    maximum: Fraction | None,
    phases: int,
) -> tuple[list[Span], list[ChargingProfile]]:
    """The limit at every instant of the window, and the profiles that decided some of it."""
    groups = [[_Cursor(p) for p in group] for group in (caps, tx, defaults)]
    edges = {0, window}
    for group in (caps, tx, defaults):
        for pieces in group:
            for piece in pieces:
                edges.add(piece.start)
                edges.add(piece.end)
    times = sorted(edges)
    spans: list[Span] = []
    deciders: dict[int, ChargingProfile] = {}
    cap_cursors, tx_cursors, default_cursors = groups
    for a, b in itertools.pairwise(times):
        cap = _first(cap_cursors, a)
        charge = _first(tx_cursors, a) or _first(default_cursors, a)
        deciding = [piece for piece in (cap, charge) if piece is not None]
        limit: Limit = maximum if not deciding else None
        for piece in deciding:
            limit = lower(limit, piece.limit)
            deciders[id(piece.profile)] = piece.profile
        spans.append(Span(a, b, limit, min((piece.phases for piece in deciding), default=phases)))
    return merged(spans), list(deciders.values())
