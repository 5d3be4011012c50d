"""The OCPP JSON schemas of each CSMS-initiated action (1.6 and 2.0.1), made fit for /openapi.json.

The ``ocpp`` package ships draft-04/06 schemas; the security-extension ones keep shared types in
``definitions`` and point at them with ``#/definitions/...``, which inside an OpenAPI document would
resolve against the document's root. The refs are inlined (the schemas have no cycles) and the
draft-only keys dropped, and integers get the spec's minimums (``SPEC_MINIMUMS_16``) and otherwise
the int64 bounds the event log can store, so each operation documents exactly the payload the API
accepts.
"""

from __future__ import annotations

import functools
from typing import Any

from actors.ocpp import Direction
from actors.ocpp.validation import load_schema

_DROPPED = frozenset({"$schema", "$id", "id", "definitions", "title"})

# The event log stores integers as msgpack int64; the OCPP schemas leave integers unbounded.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """``schema`` with its refs replaced by their definitions and draft-only keywords dropped."""
    if isinstance(schema, list):
        return [_inline(v, definitions) for v in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        return _inline(definitions[ref.removeprefix("#/definitions/")], definitions)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key == "properties":  # names of payload fields ("id" among them), not keywords
            out[key] = {name: _inline(sub, definitions) for name, sub in value.items()}
        else:
            out[key] = _inline(value, definitions)
    if out.get("type") == "integer":
        out.setdefault("minimum", INT64_MIN)
        out.setdefault("maximum", INT64_MAX)
    return out


@functools.cache
def openapi_schema(action: str, direction: Direction, version: str) -> dict[str, Any]:
    """The self-contained schema of ``action``'s request or response payload in OCPP ``version``."""
    document = load_schema(version, action, direction)
    inlined: dict[str, Any] = _inline(document, document.get("definitions", {}))
    return inlined


@functools.cache
def documented_schema(action: str, direction: Direction, versions: tuple[str, ...]) -> dict[str, Any]:
    """What /openapi.json shows for ``action``: its schema, or ``anyOf`` the versions' that have it."""
    schemas = [openapi_schema(action, direction, version) for version in versions]
    if len(schemas) == 1:
        return schemas[0]
    return {"anyOf": schemas, "description": " | ".join(f"OCPP {v}" for v in versions)}


def numbers_as_schema(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with each number in the JSON type its schema names, where that loses nothing.

    /openapi.json is OpenAPI 3.1, whose JSON Schema counts ``5.0`` as an integer; the 1.6 schemas
    (draft-04) and the chargers behind them do not, so integral floats become ints. A whole number
    too big for int64 where the schema wants a (float) number becomes a float, which the event log
    can store. The API accepts what its document promises and sends what OCPP 1.6 expects.
    """
    kind = schema.get("type")
    if isinstance(value, float) and kind == "integer" and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and kind == "number":
        return value if INT64_MIN <= value <= INT64_MAX else float(value)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {k: numbers_as_schema(v, properties.get(k, {})) for k, v in value.items()}
    if isinstance(value, list) and isinstance(items := schema.get("items"), dict):
        return [numbers_as_schema(v, items) for v in value]
    return value
