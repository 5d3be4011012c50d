"""The OCPP 1.6 JSON schemas of each CSMS-initiated action, made fit for /openapi.json.

The ``ocpp`` package ships draft-04/06 schemas; the security-extension ones keep shared types in
``definitions`` and point at them with ``#/definitions/...``, which inside an OpenAPI document would
resolve against the document's root. The refs are inlined (the schemas have no cycles) and the
draft-only keys dropped, so each operation documents exactly the payload the validator accepts.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from actors.ocpp import Direction
from actors.ocpp.validation import schema_path

_DROPPED = frozenset({"$schema", "$id", "id", "definitions", "title"})


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
    return out


@functools.cache
def openapi_schema(action: str, direction: Direction) -> dict[str, Any]:
    """The self-contained schema of ``action``'s request or response payload."""
    document = json.loads(schema_path("1.6", action, direction).read_text(encoding="utf-8-sig"))
    inlined: dict[str, Any] = _inline(document, document.get("definitions", {}))
    return inlined
