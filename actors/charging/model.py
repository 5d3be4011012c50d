"""OCPP 1.6 charging profiles as frozen dataclasses, parsed and checked from ``csChargingProfiles``.

The parse is the only way in: :func:`parse_profile` and :func:`parse_set_charging_profile` turn the
JSON a station receives into a :class:`ChargingProfile` or raise :class:`ProfileError`, whose message
names the profile (its ``chargingProfileId``, or where it stands in a list) and the field at fault, so
an operator can find the mistake in a file of many profiles. The checks are the 1.6 schema's (types,
enums, required fields, ``multipleOf 0.1``) plus the rules of the specification's text that the
schema cannot say: the first period starts at 0 and periods are in order, a ``Recurring`` profile has
a ``recurrencyKind`` and a ``startSchedule``, ``transactionId`` only on a ``TxProfile``,
``ChargePointMaxProfile`` only on connector 0 and ``TxProfile`` never there.

Limits and rates are :class:`~decimal.Decimal` (the wire's one fractional digit, kept exactly; a
JSON float is read through its shortest repr, so ``16.1`` stays 16.1); times are tz-aware datetimes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

TENTH = Decimal("0.1")
_E = TypeVar("_E", bound=enum.StrEnum)


class Purpose(enum.StrEnum):
    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class Kind(enum.StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class Recurrency(enum.StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"

    @property
    def seconds(self) -> int:
        return 86_400 if self is Recurrency.DAILY else 7 * 86_400


class Unit(enum.StrEnum):
    A = "A"
    W = "W"


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    """From ``start`` seconds after the schedule's start until the next period (or the schedule's end)."""

    start: int
    limit: Decimal
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingSchedule:
    unit: Unit
    periods: tuple[SchedulePeriod, ...]
    duration: int | None = None
    start: datetime | None = None
    min_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedule: ChargingSchedule
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | str | None = None  # 1.6: the CSMS's integer; 2.0.1: the station's string


@dataclass(frozen=True, slots=True)
class InstalledProfile:
    """A profile as a station holds it: on ``connector`` (0 is the station as a whole)."""

    connector: int
    profile: ChargingProfile


class ProfileError(ValueError):
    """A profile that cannot be used: which one (``profile``), which field, and why."""

    def __init__(self, profile: str, field: str, reason: str) -> None:
        super().__init__(f"{profile}: {field}: {reason}" if field else f"{profile}: {reason}")
        self.profile = profile
        self.field = field
        self.reason = reason


_PROFILE_FIELDS = frozenset(
    {
        "chargingProfileId",
        "transactionId",
        "stackLevel",
        "chargingProfilePurpose",
        "chargingProfileKind",
        "recurrencyKind",
        "validFrom",
        "validTo",
        "chargingSchedule",
    }
)
_SCHEDULE_FIELDS = frozenset(
    {"duration", "startSchedule", "chargingRateUnit", "chargingSchedulePeriod", "minChargingRate"}
)
_PERIOD_FIELDS = frozenset({"startPeriod", "limit", "numberPhases"})


class _Reader:
    """Reads fields of one profile, raising :class:`ProfileError` with the profile's name and the path."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, field: str, reason: str) -> ProfileError:
        return ProfileError(self.name, field, reason)

    def object(self, value: Any, field: str, allowed: frozenset[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(field, f"must be an object, got {_shown(value)}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(_join(field, unknown[0]), "unknown field")
        return value

    def integer(self, data: Mapping[str, Any], key: str, where: str, minimum: int | None = None) -> int:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(_join(where, key), f"must be an integer, got {_shown(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(_join(where, key), f"must be {minimum} or more, got {value}")
        return value

    def optional_integer(
        self, data: Mapping[str, Any], key: str, where: str, minimum: int | None = None
    ) -> int | None:
        return None if data.get(key) is None else self.integer(data, key, where, minimum)

    def transaction(self, data: Mapping[str, Any], key: str, where: str) -> int | str | None:
        """A transaction id: 1.6's integer, or a 2.0.1 station's string (1 to 36 characters)."""
        value = data.get(key)
        if isinstance(value, str) and 0 < len(value) <= 36:
            return value
        return self.optional_integer(data, key, where)

    def tenths(self, data: Mapping[str, Any], key: str, where: str) -> Decimal:
        value = data[key]
        field = _join(where, key)
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise self.fail(field, f"must be a number, got {_shown(value)}")
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            exact = number == number.quantize(TENTH)
        except InvalidOperation:
            raise self.fail(field, f"must be a finite number, got {value}") from None
        if not exact:
            raise self.fail(field, f"must be a multiple of 0.1, got {value}")
        if number < 0:
            raise self.fail(field, f"must not be negative, got {value}")
        return number.quantize(TENTH)

    def choice(self, data: Mapping[str, Any], key: str, where: str, kind: type[_E]) -> _E:
        value = data[key]
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(member.value for member in kind)
            raise self.fail(_join(where, key), f"must be one of {known}, got {_shown(value)}") from None

    def time(self, data: Mapping[str, Any], key: str, where: str) -> datetime | None:
        value = data.get(key)
        if value is None:
            return None
        field = _join(where, key)
        if not isinstance(value, str):
            raise self.fail(field, f"must be an ISO 8601 date-time string, got {_shown(value)}")
        moment = parse_time(value)
        if moment is None:
            raise self.fail(field, f"not an ISO 8601 date-time: {value!r}")
        if moment.tzinfo is None:
            raise self.fail(field, f"needs a UTC offset (e.g. ...Z or +01:00): {value!r}")
        return moment

    def required(self, data: Mapping[str, Any], where: str, keys: Sequence[str]) -> None:
        for key in keys:
            if data.get(key) is None:
                raise self.fail(_join(where, key), "missing")


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 date-time as OCPP writes it (``Z`` for UTC); None when it is not one."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def parse_profile(data: Any, name: str | None = None) -> ChargingProfile:
    """The ``csChargingProfiles`` (1.6 ``ChargingProfile``) object ``data`` as a checked profile.

    ``name`` says which profile it is in error messages when its ``chargingProfileId`` is unusable.
    """
    read = _Reader(_label(data, name or "profile"))
    if not isinstance(data, Mapping):
        raise read.fail("csChargingProfiles", f"must be an object, got {_shown(data)}")
    fields = read.object(data, "", _PROFILE_FIELDS)
    read.required(fields, "", ["chargingProfileId"])
    ident = read.integer(fields, "chargingProfileId", "")
    read.required(
        fields, "", ["stackLevel", "chargingProfilePurpose", "chargingProfileKind", "chargingSchedule"]
    )
    stack_level = read.integer(fields, "stackLevel", "", minimum=0)
    purpose = read.choice(fields, "chargingProfilePurpose", "", Purpose)
    kind = read.choice(fields, "chargingProfileKind", "", Kind)
    recurrency = None
    if kind is Kind.RECURRING:
        read.required(fields, "", ["recurrencyKind"])
        recurrency = read.choice(fields, "recurrencyKind", "", Recurrency)
    transaction_id = read.transaction(fields, "transactionId", "")
    if transaction_id is not None and purpose is not Purpose.TX:
        raise read.fail("transactionId", f"only a TxProfile names a transaction, not a {purpose}")
    valid_from = read.time(fields, "validFrom", "")
    valid_to = read.time(fields, "validTo", "")
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        raise read.fail("validTo", f"must be after validFrom ({fields['validFrom']})")
    schedule = _schedule(read, fields["chargingSchedule"], kind, recurrency)
    return ChargingProfile(
        id=ident,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        schedule=schedule,
        recurrency=recurrency,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id=transaction_id,
    )


def _schedule(read: _Reader, data: Any, kind: Kind, recurrency: Recurrency | None) -> ChargingSchedule:
    where = "chargingSchedule"
    fields = read.object(data, where, _SCHEDULE_FIELDS)
    read.required(fields, where, ["chargingRateUnit", "chargingSchedulePeriod"])
    unit = read.choice(fields, "chargingRateUnit", where, Unit)
    duration = read.optional_integer(fields, "duration", where, minimum=1)
    start = read.time(fields, "startSchedule", where)
    if kind is Kind.RECURRING and start is None:
        raise read.fail(
            f"{where}.startSchedule", "a Recurring profile needs it: its recurrences count from it"
        )
    min_rate = (
        None if fields.get("minChargingRate") is None else read.tenths(fields, "minChargingRate", where)
    )
    raw_periods = fields["chargingSchedulePeriod"]
    if not isinstance(raw_periods, list) or not raw_periods:
        raise read.fail(f"{where}.chargingSchedulePeriod", "must be a non-empty list")
    periods: list[SchedulePeriod] = []
    for index, raw in enumerate(raw_periods):
        at = f"{where}.chargingSchedulePeriod[{index}]"
        period = read.object(raw, at, _PERIOD_FIELDS)
        read.required(period, at, ["startPeriod", "limit"])
        begin = read.integer(period, "startPeriod", at, minimum=0)
        if not periods and begin != 0:
            raise read.fail(f"{at}.startPeriod", f"the first period starts at 0, not {begin}")
        if periods and begin <= periods[-1].start:
            raise read.fail(
                f"{at}.startPeriod", f"must be after the one before ({periods[-1].start}), got {begin}"
            )
        end = duration if recurrency is None else min(duration or recurrency.seconds, recurrency.seconds)
        if end is not None and begin >= end:
            why = "duration" if end == duration else f"{recurrency} recurrence ({end} s)"
            raise read.fail(f"{at}.startPeriod", f"{begin} is not before the schedule's {why}: never applies")
        phases = read.optional_integer(period, "numberPhases", at)
        if phases is not None and not 1 <= phases <= 3:
            raise read.fail(f"{at}.numberPhases", f"must be 1, 2 or 3, got {phases}")
        periods.append(SchedulePeriod(begin, read.tenths(period, "limit", at), phases))
    return ChargingSchedule(unit, tuple(periods), duration, start, min_rate)


def parse_set_charging_profile(payload: Any, name: str | None = None) -> InstalledProfile:
    """A SetChargingProfile request (``{"connectorId": N, "csChargingProfiles": {...}}``), checked."""
    raw = payload.get("csChargingProfiles") if isinstance(payload, Mapping) else None
    read = _Reader(_label(raw, name or "SetChargingProfile"))
    fields = read.object(payload, "", frozenset({"connectorId", "csChargingProfiles"}))
    read.required(fields, "", ["connectorId", "csChargingProfiles"])
    connector = read.integer(fields, "connectorId", "", minimum=0)
    profile = parse_profile(raw, name)
    if profile.purpose is Purpose.CHARGE_POINT_MAX and connector != 0:
        raise ProfileError(
            f"profile {profile.id}", "connectorId", f"a ChargePointMaxProfile goes on 0, not {connector}"
        )
    if profile.purpose is Purpose.TX and connector == 0:
        raise ProfileError(
            f"profile {profile.id}", "connectorId", "a TxProfile goes on a connector, not on 0"
        )
    return InstalledProfile(connector, profile)


def install(installed: Sequence[InstalledProfile], new: InstalledProfile) -> list[InstalledProfile]:
    """What a station holds after accepting ``new``, as 1.6 says (SetChargingProfile): ``new`` replaces
    a profile with the same ``chargingProfileId`` anywhere, and one on its own connector with the same
    stack level and purpose."""
    kept = [
        held
        for held in installed
        if held.profile.id != new.profile.id
        and not (
            held.connector == new.connector
            and (held.profile.stack_level, held.profile.purpose)
            == (new.profile.stack_level, new.profile.purpose)
        )
    ]
    return [*kept, new]


def parse_profiles(payloads: Any) -> list[InstalledProfile]:
    """A list of SetChargingProfile requests in the order a station received them, as it then holds them."""
    if not isinstance(payloads, list):
        raise ProfileError("file", "", "must be a JSON list of SetChargingProfile requests")
    installed: list[InstalledProfile] = []
    for index, payload in enumerate(payloads):
        installed = install(installed, parse_set_charging_profile(payload, f"entry {index}"))
    return installed


def _label(profile: Any, name: str) -> str:
    """``profile N`` when the profile carries a usable id, else ``name``: how errors name a profile."""
    ident = profile.get("chargingProfileId") if isinstance(profile, Mapping) else None
    if isinstance(ident, int) and not isinstance(ident, bool):
        return f"profile {ident}"
    return name


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
