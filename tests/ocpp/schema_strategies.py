"""Hypothesis strategies that draw payloads from an OCPP JSON schema (the subset 1.6 uses).

``valid`` payloads match the schema and use no alias spelling; ``quirky`` payloads carry the vendor
faults the lenient validator declares it repairs (alias and mis-cased enum values, mis-cased keys,
numeric strings, over-long strings, non-RFC-3339 timestamps), each of them repairable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from actors.ocpp import DEFAULT_ALIASES

_TIMES = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=st.just(dt.UTC)
)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def _variants(moment: dt.datetime) -> st.SearchStrategy[str]:
    naive = moment.replace(tzinfo=None)
    return st.sampled_from(
        [
            naive.strftime("%Y-%m-%d %H:%M:%S"),  # space separator, no zone
            naive.strftime("%Y-%m-%dT%H:%M:%S"),  # no zone
            naive.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}123",  # nanoseconds
            naive.strftime("%Y-%m-%d %H:%M:%S+02:00"),
        ]
    )


def _swap_first(name: str) -> str:
    return name[:1].swapcase() + name[1:]


def payloads(
    schema: Mapping[str, Any], *, quirky: bool, root: Mapping[str, Any] | None = None
) -> st.SearchStrategy[Any]:
    """Payloads for ``schema`` (``$ref`` resolved in ``root``, the schema itself at the top)."""
    root = schema if root is None else root
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    if "enum" in schema:
        members = [m for m in schema["enum"] if m not in DEFAULT_ALIASES]
        if not quirky:
            return st.sampled_from(members)
        aliases = [a for a, target in DEFAULT_ALIASES.items() if target in schema["enum"]]
        folded = [m.casefold() for m in schema["enum"]]
        cased = [m.swapcase() for m in members if folded.count(m.casefold()) == 1 and m.swapcase() != m]
        return st.sampled_from(members + aliases + cased)
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, quirky, root)
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + 2), low + 2)
        return st.lists(payloads(schema["items"], quirky=quirky, root=root), min_size=low, max_size=high)
    if kind == "string":
        if schema.get("format") == "date-time":
            return _TIMES.flatmap(lambda m: _variants(m) if quirky else st.just(_rfc3339(m)))
        limit = schema.get("maxLength")
        if limit is None:
            return st.text(max_size=12)
        if quirky and limit <= 1000:
            return st.text(max_size=min(limit, 12)) | st.text(min_size=limit + 1, max_size=limit + 3)
        return st.text(max_size=min(limit, 12))
    low, high = int(schema.get("minimum", -(10**4))), int(schema.get("maximum", 10**4))
    if kind == "integer":
        numbers = st.integers(low, high)
        return numbers | numbers.map(str) | numbers.map(float) if quirky else numbers
    if kind == "number":
        # integers are multiples of the 0.1 steps 1.6 declares; other numbers may be fractional
        reals: st.SearchStrategy[int | float] = st.integers(low, high)
        if "multipleOf" not in schema:
            reals = reals | st.floats(low, high, allow_nan=False).map(lambda f: round(f, 3))
        return reals | reals.map(str) if quirky else reals
    if kind == "boolean":
        return st.booleans()
    raise NotImplementedError(f"schema construct not drawn: {schema}")


def _object(
    schema: Mapping[str, Any], quirky: bool, root: Mapping[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    closed = schema.get("additionalProperties") is False
    folded = [name.casefold() for name in properties]

    @st.composite
    def draw(draw_: st.DrawFn) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in required or draw_(st.booleans()):
                key = name
                swappable = closed and folded.count(name.casefold()) == 1 and _swap_first(name) != name
                if quirky and swappable and draw_(st.booleans()):
                    key = _swap_first(name)
                result[key] = draw_(payloads(sub, quirky=quirky, root=root))
        return result

    return draw()
