"""The event base class, the registry of stored type names, and the codec between events and stored data.

Every event type is one frozen, slotted, keyword-only dataclass deriving from :class:`Event`, with its
stored type name (``TYPE``, never changed once written) and its schema ``VERSION``, registered with
:func:`register`. Stored data is a msgpack-native dict (what ``NewEvent.data`` holds): one key per
field, named as the field, plus ``"v"`` when ``VERSION`` is above 1 (absent means 1). Fields declared
with :data:`OMITTED_WHEN_NONE` metadata are left out of the data while None, so a new optional field does not
grow every record that lacks it.

Reading goes through :func:`events_of` (a committed record) or :func:`decode` (a type name and data):
data of an older version is upcast first (:func:`upcaster`, one step per version), then checked
field by field against the class: a missing field, a value of the wrong type or a version newer than
this build knows raises :class:`EventDataError` naming the field (and, from :func:`events_of`, the
record's position). A type name no class claims decodes to :class:`UnknownEvent`, which no fold
handles, so a log written by a newer build (or carrying a retired type) still folds.

The per-class field specs are computed once, at registration, and each class gets an encoder and a
decoder generated from its spec as straight-line code: no per-event reflection or loop over fields
(this runs on every message's hot path). The decoder only tells data that fits from data that does
not; the latter goes through a loop over the spec that says which field is wrong.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from actors.events.refs import IdToken
from core.events import EventRecord, NewEvent

__all__ = [
    "OMITTED_WHEN_NONE",
    "Event",
    "EventDataError",
    "UnknownEvent",
    "check_upcasters",
    "decode",
    "encode",
    "events_of",
    "new_events",
    "register",
    "registered",
    "upcaster",
]


class Event:
    """A domain or protocol event. Subclasses set ``TYPE`` (the stored name) and ``VERSION``."""

    __slots__ = ()
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class UnknownEvent(Event):
    """A stored event whose type name no registered class claims: kept, folded by nobody."""

    type_name: str
    data: Mapping[str, Any]


class EventDataError(ValueError):
    """Stored data that does not fit its event class; ``field`` names the field (None: the whole)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


#: Metadata of a field left out of the stored data while None: ``field(default=None, metadata=...)``.
OMITTED_WHEN_NONE: Mapping[str, bool] = {"omitted_when_none": True}


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_MISSING: Any = object()
_REGISTRY: dict[str, type[Event]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}
# Per class: (name, omit when None, encoder) for encoding; (name, required, nullable, accepted
# types or None for any, decoder) for decoding.
_ENCODE: dict[type[Event], tuple[tuple[str, bool, Callable[[Any], Any] | None], ...]] = {}
_DECODE: dict[
    type[Event], tuple[tuple[str, bool, bool, tuple[type, ...] | None, Callable[[Any], Any] | None], ...]
] = {}
# Per class: a decoder generated from the spec above for data that fits (see _fast_decoder), and
# an encoder generated from it (see _encoder).
_FAST: dict[type[Event], Callable[[Mapping[str, Any]], Event]] = {}
_ENCODERS: dict[type[Event], Callable[[Event], dict[str, Any]]] = {}

E = TypeVar("E", bound=type[Event])


def register(cls: E) -> E:
    """Register an event class under its ``TYPE`` (a class decorator, above ``@dataclass``)."""
    name = cls.TYPE
    if name in _REGISTRY:
        raise ValueError(f"event type {name!r} is registered twice ({_REGISTRY[name]} and {cls})")
    if not (
        dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen and "__slots__" in cls.__dict__
    ):
        raise TypeError(f"{cls.__qualname__} must be a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__}: decoding fills the slots, so there is no __post_init__ to run")
    hints = typing.get_type_hints(cls)
    encoders = []
    decoders = []
    for f in dataclasses.fields(cls):
        if f.name == "v":
            raise TypeError(f"{cls.__qualname__}: 'v' is the stored version's key, not a field name")
        nullable, accepted, decoder, encoder = _spec(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if not required and (f.default is not None or not nullable):
            raise TypeError(f"{cls.__qualname__}.{f.name}: an optional event field defaults to None")
        encoders.append((f.name, bool(f.metadata.get("omitted_when_none")), encoder))
        decoders.append((f.name, required, nullable, accepted, decoder))
    _ENCODE[cls] = tuple(encoders)
    _DECODE[cls] = tuple(decoders)
    _FAST[cls] = _fast_decoder(cls, _DECODE[cls])
    _ENCODERS[cls] = _encoder(cls, _ENCODE[cls])
    _REGISTRY[name] = cls
    return cls


def _encoder(
    cls: type[Event], spec: tuple[tuple[str, bool, Callable[[Any], Any] | None], ...]
) -> Callable[[Event], dict[str, Any]]:
    """The stored data of a ``cls`` event, with the spec unrolled into straight-line code."""
    namespace: dict[str, Any] = {}
    body = [
        "def encode(event):",
        f"    data = {{'v': {cls.VERSION}}}" if cls.VERSION != 1 else "    data = {}",
    ]
    for i, (name, omit, encoder) in enumerate(spec):
        body.append(f"    value = event.{name}")
        if encoder is not None:
            namespace[f"E{i}"] = encoder
            body.append(f"    if value is not None: value = E{i}(value)")
        if omit:
            body.append(f"    if value is not None: data[{name!r}] = value")
        else:
            body.append(f"    data[{name!r}] = value")
    body.append("    return data")
    exec("\n".join(body), namespace)
    encode: Callable[[Event], dict[str, Any]] = namespace["encode"]
    return encode


def _fast_decoder(
    cls: type[Event],
    spec: tuple[tuple[str, bool, bool, tuple[type, ...] | None, Callable[[Any], Any] | None], ...],
) -> Callable[[Mapping[str, Any]], Event]:
    """A decoder for ``cls`` with the spec's checks unrolled into straight-line code.

    It only tells data that fits from data that does not: for the latter it hands over to
    :func:`_checked`, which walks the spec and says which field is wrong and how. Generated once per
    class at registration; a loop over the spec per event costs about twice as much.
    """
    namespace: dict[str, Any] = {"cls": cls, "M": _MISSING, "checked": _checked, "new": object.__new__}
    body = ["def fast(data):", "    get = data.get"]
    checks: list[str] = []
    decoded: list[str] = []
    for i, (name, required, nullable, accepted, decoder) in enumerate(spec):
        value = f"v{i}"
        # An optional field defaults to None (checked at registration): absent reads as None.
        body.append(f"    {value} = get({name!r}{', M' if required else ''})")
        if decoder is not None:  # an id token: a mapping that its decoder checks
            namespace[f"D{i}"] = decoder
            decoded.append(f"        if {value} is not None: {value} = D{i}({value})")
            fits = f"isinstance({value}, dict)"
        elif accepted is not None:
            namespace[f"A{i}"] = accepted
            fits = f"isinstance({value}, A{i})"
        else:  # Any, None included
            fits = f"{value} is not M" if required else ""
        if fits and nullable and (decoder is not None or accepted is not None):
            fits = f"({value} is None or {fits})"
        if fits:
            checks.append(fits)
    body.append(f"    if not ({' and '.join(checks) or 'True'}):")
    body.append("        return checked(cls, data)")
    if decoded:
        body.append("    try:")
        body.extend(decoded)
        body.append("    except ValueError:")
        body.append("        return checked(cls, data)")
    # Filled through its slots, as the frozen dataclass's __init__ would (without its per-field
    # object.__setattr__, which costs as much again): the values were checked above.
    body.append("    event = new(cls)")
    for i, (name, *_) in enumerate(spec):
        namespace[f"S{i}"] = cls.__dict__[name].__set__
        body.append(f"    S{i}(event, v{i})")
    body.append("    return event")
    exec("\n".join(body), namespace)
    fast: Callable[[Mapping[str, Any]], Event] = namespace["fast"]
    return fast


def upcaster(cls: type[Event], from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning ``cls``'s stored data of ``from_version`` into ``from_version + 1``."""

    def add(function: Upcaster) -> Upcaster:
        if not 1 <= from_version < cls.VERSION:
            raise ValueError(f"{cls.TYPE} is at version {cls.VERSION}: no upcaster from {from_version}")
        _UPCASTERS[(cls.TYPE, from_version)] = function
        return function

    return add


def check_upcasters() -> None:
    """Raise unless every registered class can upcast from each of its older versions."""
    for name, cls in _REGISTRY.items():
        missing = [v for v in range(1, cls.VERSION) if (name, v) not in _UPCASTERS]
        if missing:
            raise TypeError(f"{name} is at version {cls.VERSION} but has no upcaster from {missing}")


def registered() -> Mapping[str, type[Event]]:
    """Every registered class by stored type name."""
    return dict(_REGISTRY)


def _spec(
    hint: Any,
) -> tuple[bool, tuple[type, ...] | None, Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """(nullable, accepted types or None for any, decoder, encoder) for one field's type hint."""
    args = typing.get_args(hint) if _is_union(hint) else (hint,)
    nullable = type(None) in args
    args = tuple(a for a in args if a is not type(None))
    if args == (IdToken,):
        return nullable, None, IdToken.from_data, IdToken.to_data
    accepted: list[type] = []
    for arg in args:
        origin = typing.get_origin(arg) or arg
        if origin is Any:
            return True, None, None, None
        if origin is float:
            accepted += [int, float]
        elif origin in (list, Sequence):
            accepted += [list, tuple]
        elif origin in (dict, Mapping):
            accepted.append(dict)
        elif origin in (int, str, bool, bytes):
            accepted.append(origin)
        else:
            raise TypeError(f"event fields are msgpack-native or IdToken, not {hint!r}")
    return nullable, tuple(accepted), None, None


def _is_union(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union


def encode(event: Event) -> tuple[str, dict[str, Any]]:
    """The stored type name and msgpack-native data of ``event``."""
    cls = type(event)
    encoder = _ENCODERS.get(cls)
    if encoder is None:
        if isinstance(event, UnknownEvent):
            return event.type_name, dict(event.data)
        raise TypeError(f"{cls.__qualname__} is not a registered event class")
    return cls.TYPE, encoder(event)


def decode(type_name: str, data: Mapping[str, Any]) -> Event:
    """The event stored as (``type_name``, ``data``), upcast to this build's version of its class."""
    cls = _REGISTRY.get(type_name)
    if cls is None:
        return UnknownEvent(type_name, data)
    if type(data) is not dict and not isinstance(data, Mapping):
        raise EventDataError(f"{type_name}: data must be a mapping, got {type(data).__qualname__}")
    version = data.get("v", 1)
    if version != cls.VERSION:
        data = _upcast(cls, version, data)
    return _FAST[cls](data)


def _checked(cls: type[Event], data: Mapping[str, Any]) -> Event:
    """Decode field by field, raising EventDataError at the first that does not fit."""
    type_name = cls.TYPE
    kwargs: dict[str, Any] = {}
    for name, required, nullable, accepted, decoder in _DECODE[cls]:
        value = data.get(name, _MISSING)
        if value is _MISSING:
            if required:
                raise EventDataError(f"{type_name} v{cls.VERSION}: field {name!r} is missing", name)
            continue
        if value is None:
            if not nullable:
                raise EventDataError(f"{type_name} v{cls.VERSION}: field {name!r} is None", name)
        elif accepted is not None and not isinstance(value, accepted):
            expected = " | ".join(t.__name__ for t in accepted)
            raise EventDataError(
                f"{type_name} v{cls.VERSION}: field {name!r} must be {expected}, got {value!r:.80}", name
            )
        elif decoder is not None:
            try:
                value = decoder(value)
            except ValueError as error:
                raise EventDataError(f"{type_name} v{cls.VERSION}: field {name!r}: {error}", name) from None
        kwargs[name] = value
    return cls(**kwargs)


def _upcast(cls: type[Event], version: object, data: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise EventDataError(f"{cls.TYPE}: stored version {version!r} is not a version", "v")
    if version > cls.VERSION:
        raise EventDataError(
            f"{cls.TYPE}: stored at version {version}, newer than this build's {cls.VERSION}", "v"
        )
    upcast = dict(data)
    while version < cls.VERSION:
        upcast = _UPCASTERS[(cls.TYPE, version)](upcast)
        version += 1
    return upcast


def events_of(record: EventRecord) -> tuple[Event, ...]:
    """The typed events a committed record holds: every consumer reads records through here.

    One event per record today; a record kind that holds several (an exchange's frames and decided
    events) decodes to all of them, in order, here and nowhere else.
    """
    if record.decoded is not None:  # appended by this process: the events it was encoded from
        return record.decoded  # type: ignore[no-any-return]
    try:
        return (decode(record.type, record.data),)
    except EventDataError as error:
        raise EventDataError(
            f"event at position {record.position} ({record.stream} #{record.sequence}): {error}", error.field
        ) from None


def new_events(stream: str, events: Iterable[Event], when: datetime) -> list[NewEvent]:
    """``events`` encoded as NewEvents of ``stream`` at ``when``, ready to append.

    Each carries its event as ``decoded``, which ``events_of`` returns for the committed record in
    this process instead of decoding ``data`` again.
    """
    out = []
    for event in events:
        type_name, data = encode(event)
        out.append(NewEvent(stream, type_name, data, when, (event,)))
    return out
