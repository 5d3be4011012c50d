"""Payload validation against the JSON schemas the ``ocpp`` package ships, with a repair policy.

Schemas are compiled with fastjsonschema lazily, once per (version, action, direction), and
cached for the process: a compiled check costs an order of magnitude less than the ``ocpp``
package's jsonschema path, which matters on every MeterValues (``bench/validation_micro.py``;
figures in bench/results/README.md). Formats are checked (``date-time``, ``uri``), defaults are
never inserted, payloads are never mutated.

A :class:`Validator` has a :class:`Policy`, chosen per station or vendor:

- ``STRICT``: the payload must match the schema as it is.
- ``LENIENT``: the declared repairs of :mod:`actors.ocpp.repairs` are applied, recorded and
  returned; what still does not match is rejected as in strict mode.

Rejections raise :class:`~actors.ocpp.errors.OcppError`. The code follows the ``ocpp`` package's
mapping from jsonschema errors (``messages._validate_payload``) where it names the rule, with the
1.6 spelling of FormationViolation; for the rules it lumps into FormatViolation, the code whose
OCPP 1.6 definition fits is used instead:

==========================================================  ==============================  ============
schema rule broken                                          code                            source
==========================================================  ==============================  ============
``type``                                                    TypeConstraintViolation         ocpp
``maxLength``                                               TypeConstraintViolation         ocpp
``additionalProperties``                                    FormationViolation              ocpp
``required``                                                ProtocolError                   ocpp
``enum``, ``format``, ``minimum``, ``maximum``,             PropertyConstraintViolation     spec: "a field
``exclusiveMinimum``, ``exclusiveMaximum``, ``multipleOf``,                                 contains an
``minLength``, ``pattern``                                                                  invalid value"
``minItems``, ``maxItems``, ``uniqueItems``                 OccurenceConstraintViolation    spec: occurrence
anything else                                               FormationViolation              ocpp
action without a schema for this version                    NotImplemented                  ocpp
==========================================================  ==============================  ============
"""

from __future__ import annotations

import enum
import functools
import json
import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import ocpp

from actors.ocpp.errors import ErrorCode, OcppError
from actors.ocpp.repairs import DEFAULT_ALIASES, Repair, SchemaWalk

VERSIONS = ("1.6", "2.0.1")
# Where the ``ocpp`` package keeps a version's schemas and how it names a request's file: 1.6
# ``X.json``/``XResponse.json``, 2.0.1 ``XRequest.json``/``XResponse.json``.
_SCHEMA_DIRS = {"1.6": "v16", "2.0.1": "v201"}
_REQUEST_SUFFIX = {"1.6": "", "2.0.1": "Request"}
_OCPP_DIR = pathlib.Path(ocpp.__file__).resolve().parent

_RULE_CODES: Mapping[str, ErrorCode] = {
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "maxLength": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMATION_VIOLATION,
    "required": ErrorCode.PROTOCOL_ERROR,
    **dict.fromkeys(
        (
            "enum",
            "format",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
            "minLength",
            "pattern",
        ),
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    **dict.fromkeys(("minItems", "maxItems", "uniqueItems"), ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
}


class Policy(enum.StrEnum):
    """How a station's payloads are treated."""

    STRICT = "strict"
    LENIENT = "lenient"


class Direction(enum.StrEnum):
    """Which payload of an action: the CALL's or the CALLRESULT's."""

    REQUEST = "request"
    RESPONSE = "response"


@dataclass(frozen=True, slots=True)
class Validated:
    """An accepted payload and the repairs that made it acceptable (empty when none)."""

    payload: dict[str, Any]
    repairs: tuple[Repair, ...]


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """One action's schema in one direction, loaded and compiled."""

    schema: dict[str, Any]
    check: Callable[[Any], Any]


def schema_path(version: str, action: str, direction: Direction) -> pathlib.Path:
    """Where the ``ocpp`` package keeps the schema (1.6: ``X.json``/``XResponse.json``)."""
    if version not in _SCHEMA_DIRS:
        raise ValueError(f"OCPP version must be one of {VERSIONS}, got {version!r}")
    suffix = "Response" if direction is Direction.RESPONSE else _REQUEST_SUFFIX[version]
    name = f"{action}{suffix}"
    return _OCPP_DIR / _SCHEMA_DIRS[version] / "schemas" / f"{name}.json"


# Lower bounds the OCPP 1.6 specification states in prose (section 6) that its JSON schemas leave out:
# a connector id is 0 (the whole station) or above where 0 means something, 1 or above where a
# physical connector is meant. A negative id would otherwise be sent on to the station. Keyed by
# (action, field) of a CSMS-initiated request's top level.
SPEC_MINIMUMS_16: Mapping[tuple[str, str], int] = {
    ("ChangeAvailability", "connectorId"): 0,
    ("ClearChargingProfile", "connectorId"): 0,
    ("GetCompositeSchedule", "connectorId"): 0,
    ("RemoteStartTransaction", "connectorId"): 1,
    ("ReserveNow", "connectorId"): 0,
    ("SetChargingProfile", "connectorId"): 0,
    ("TriggerMessage", "connectorId"): 1,
    ("UnlockConnector", "connectorId"): 1,
}
_SPEC_MINIMUMS = {"1.6": SPEC_MINIMUMS_16}


def load_schema(version: str, action: str, direction: Direction) -> dict[str, Any]:
    """The schema as the ``ocpp`` package ships it, plus the minimums of :data:`SPEC_MINIMUMS_16`."""
    # 2.0.1 schemas start with a byte order mark.
    schema: dict[str, Any] = json.loads(
        schema_path(version, action, direction).read_text(encoding="utf-8-sig")
    )
    if direction is Direction.REQUEST:
        for (name, field), minimum in _SPEC_MINIMUMS.get(version, {}).items():
            if name == action:
                schema["properties"][field]["minimum"] = minimum
    return schema


@functools.cache
def actions(version: str) -> frozenset[str]:
    """The actions the ``ocpp`` package ships a request schema for in ``version``."""
    folder = schema_path(version, "Heartbeat", Direction.REQUEST).parent
    suffix = _REQUEST_SUFFIX[version]
    return frozenset(
        path.stem.removesuffix(suffix)
        for path in folder.glob("*.json")
        if not path.stem.endswith("Response") and path.stem.endswith(suffix)
    )


def compiled(version: str, action: str, direction: Direction) -> CompiledSchema | None:
    """The compiled schema, or ``None`` when the version has no such action.

    Only names in :func:`actions` reach the cache, so a peer sending made-up action names can
    neither grow it nor make the validator open files of its choosing.
    """
    if action not in actions(version):
        return None
    return _compile(version, action, Direction(direction))


@functools.cache
def _compile(version: str, action: str, direction: Direction) -> CompiledSchema:
    schema = load_schema(version, action, direction)
    return CompiledSchema(schema, fastjsonschema.compile(schema, use_default=False))


class Validator:
    """Validates (and, when lenient, repairs) payloads of one OCPP version under one policy.

    ``aliases`` extends :data:`~actors.ocpp.repairs.DEFAULT_ALIASES` (``Hz`` -> ``Hertz``, ``Celcius``
    -> ``Celsius``) with vendor spellings; an alias target may not itself be an alias, so repairs
    stay idempotent.
    """

    def __init__(
        self,
        version: str = "1.6",
        policy: Policy = Policy.LENIENT,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        if version not in _SCHEMA_DIRS:
            raise ValueError(f"OCPP version must be one of {VERSIONS}, got {version!r}")
        table = {**DEFAULT_ALIASES, **(aliases or {})}
        chained = sorted(source for source, target in table.items() if target in table or source == target)
        if chained:
            raise ValueError(f"alias targets must not be aliases themselves: {chained}")
        self.version = version
        self.policy = Policy(policy)
        self.aliases: Mapping[str, str] = table
        self._walks: dict[tuple[str, Direction], SchemaWalk] = {}
        # The compiled schemas this validator has used: one dict lookup per payload on the hot path.
        self._schemas: dict[tuple[str, Direction], CompiledSchema] = {}
        # Each alias source as it would appear in JSON text without escapes: see _may_hold_alias.
        self._quoted_aliases = tuple(json.dumps(source, ensure_ascii=False) for source in table)

    def knows(self, action: str) -> bool:
        """Whether this version has a request schema for ``action``."""
        return compiled(self.version, action, Direction.REQUEST) is not None

    def validate_request(self, action: str, payload: dict[str, Any], text: str | None = None) -> Validated:
        """Check a CALL payload for ``action``; raise :class:`OcppError` if it is not acceptable.

        ``text``: the JSON text the payload was parsed from (or a text holding it, such as the whole
        frame), when known; it lets a valid payload skip the alias walk (see :meth:`validate`).
        """
        return self.validate(action, Direction.REQUEST, payload, text)

    def validate_response(self, action: str, payload: dict[str, Any]) -> Validated:
        """Check the CALLRESULT payload answering ``action``."""
        return self.validate(action, Direction.RESPONSE, payload)

    def validate(
        self, action: str, direction: Direction, payload: dict[str, Any], text: str | None = None
    ) -> Validated:
        """Check ``payload`` of ``action`` in ``direction`` under this validator's policy.

        A valid payload is only walked for alias spellings when ``text`` (the JSON it came from) is
        unknown or may hold one: on the hot path most frames hold none, and the walk cost about as
        much as the schema check.
        """
        schema = self._schemas.get((action, direction))
        if schema is None:
            schema = compiled(self.version, action, direction)
            if schema is None:
                raise OcppError(ErrorCode.NOT_IMPLEMENTED, f"{action!r} is not an OCPP {self.version} action")
            self._schemas[(action, Direction(direction))] = schema  # only actions the version has
        failure = _failure(schema, payload)
        if self.policy is Policy.STRICT:
            if failure is not None:
                raise self._error(action, direction, failure)
            return Validated(payload, ())
        if failure is None and text is not None and not self._may_hold_alias(text):
            return Validated(payload, ())
        walk = self._walk(action, direction, schema)
        if failure is None:
            canonical, repairs = walk.canonicalise(payload)
            return Validated(canonical, tuple(repairs))
        repaired, repairs = walk.repair(payload)
        if repairs:
            failure = _failure(schema, repaired)
        if failure is not None:
            raise self._error(action, direction, failure)
        return Validated(repaired, tuple(repairs))

    def _may_hold_alias(self, text: str) -> bool:
        """Whether a JSON string in ``text`` may equal an alias source.

        Without a backslash, every string in JSON text stands in it as it decodes, between quotes,
        so a quoted alias source that does not occur in the text is in no string of the payload.
        """
        return "\\" in text or any(quoted in text for quoted in self._quoted_aliases)

    def _walk(self, action: str, direction: Direction, schema: CompiledSchema) -> SchemaWalk:
        walk = self._walks.get((action, direction))
        if walk is None:
            walk = self._walks[(action, direction)] = SchemaWalk(schema.schema, self.aliases)
        return walk

    def _error(
        self, action: str, direction: Direction, failure: fastjsonschema.JsonSchemaValueException
    ) -> OcppError:
        path = "$" + (failure.name or "data").removeprefix("data")
        code = _RULE_CODES.get(failure.rule or "", ErrorCode.FORMATION_VIOLATION)
        message = failure.message.replace(failure.name or "data", path, 1)
        return OcppError(
            code,
            f"{action} {direction.value}: {message}",
            details={"path": path, "rule": failure.rule},
            path=path,
        )


def _failure(schema: CompiledSchema, payload: Any) -> fastjsonschema.JsonSchemaValueException | None:
    try:
        schema.check(payload)
    except fastjsonschema.JsonSchemaValueException as failure:
        return failure
    return None
