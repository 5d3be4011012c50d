"""Declared repairs of vendor payloads, guided by the action's JSON schema.

Real chargers break the schemas in a handful of known ways; a lenient station keeps them
connected by repairing exactly these, and records every repair so it can be put in the event and
counted. Each repair is a :class:`Repair` (JSON path of the field, kind, before, after).

========================  ==============================================  =============================
kind                      what                                            example
========================  ==============================================  =============================
``enum_alias``            a value in the alias table, where the field's    ``Hz`` -> ``Hertz``,
                          enum holds the canonical spelling                ``Celcius`` -> ``Celsius``
``enum_case``             an enum value in the wrong letter case           ``celsius`` -> ``Celsius``
``key_case``              a property name in the wrong letter case, where  ``ChargeBoxSerialNumber`` ->
                          the schema forbids additional properties         ``chargeBoxSerialNumber``
``truncated``             a string longer than ``maxLength``               cut to ``maxLength``
``number_coerced``        a numeric string where the schema wants a        ``"12"`` -> ``12``,
                          number or an integer; an integral float where    ``3.0`` -> ``3``
                          a draft-04 schema (all of 1.6 core) wants an
                          integer (draft-06 and later accept ``3.0``)
``timestamp_normalised``  a date-time that is not RFC 3339 but parses      ``2021-08-24 11:13:03`` ->
                          (space separator, no zone = UTC, ``+0200``)      ``2021-08-24T11:13:03Z``
========================  ==============================================  =============================

The alias table canonicalises even a spelling the schema accepts (the shipped 1.6 unit enum has
both ``Celcius`` and ``Celsius``): domain events carry one spelling. Apart from that, a payload that
is valid against its schema is returned unchanged (the same object), and repairing a repaired payload
repairs nothing: each kind produces a value that the same kind no longer matches.
The walk never mutates its input; changed containers are copied.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastjsonschema.draft04 import CodeGeneratorDraft04

DEFAULT_ALIASES: Mapping[str, str] = {"Hz": "Hertz", "Celcius": "Celsius"}

# The very pattern the compiled validator checks ``date-time`` with, so "valid" means the same here.
RFC3339 = re.compile(CodeGeneratorDraft04.FORMAT_REGEXS["date-time"])
_NUMBER = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_LONGEST_NUMBER = 64  # longer digit strings are not meter readings, and int() refuses > 4300 digits


@dataclass(frozen=True, slots=True)
class Repair:
    """One field changed to make a payload acceptable."""

    path: str
    kind: str
    before: Any
    after: Any


class SchemaWalk:
    """Applies the declared repairs to payloads of one schema (``root`` resolves ``$ref``)."""

    def __init__(self, root: Mapping[str, Any], aliases: Mapping[str, str]) -> None:
        self._root = root
        self._aliases = aliases
        self._floats_are_not_integers = "draft-04" in str(root.get("$schema", ""))
        self._bearing: dict[int, bool] = {}
        self._properties: dict[int, list[tuple[str, Mapping[str, Any]]]] = {}

    def repair(self, payload: dict[str, Any]) -> tuple[dict[str, Any], list[Repair]]:
        """The repaired payload (``payload`` itself when nothing changed) and the repairs made."""
        repairs: list[Repair] = []
        repaired = self._walk(payload, self._root, "$", repairs)
        return repaired, repairs

    def canonicalise(self, payload: dict[str, Any]) -> tuple[dict[str, Any], list[Repair]]:
        """Only the ``enum_alias`` repairs: all a schema-valid payload can need, found much faster.

        The walk descends only into the parts of the schema that hold an enum with an alias spelling
        (for MeterValues: ``meterValue[].sampledValue[].unit``), so a valid payload costs little more
        than the schema check itself.
        """
        repairs: list[Repair] = []
        if not self._bears_alias(self._root):
            return payload, repairs
        canonical = self._aliases_only(payload, self._root, "$", repairs)
        return canonical, repairs

    def _bears_alias(self, schema: Mapping[str, Any]) -> bool:
        """Whether an enum holding an alias source can be reached from ``schema`` (memoised)."""
        key = id(schema)
        if key not in self._bearing:
            self._bearing[key] = False  # a cycle through $ref bears nothing new
            node = self._resolve(schema)
            children = [*node.get("properties", {}).values()]
            if isinstance(node.get("items"), Mapping):
                children.append(node["items"])
            self._bearing[key] = any(value in self._aliases for value in node.get("enum", ())) or any(
                self._bears_alias(child) for child in children
            )
        return self._bearing[key]

    def _aliases_only(self, value: Any, schema: Mapping[str, Any], path: str, out: list[Repair]) -> Any:
        node = self._resolve(schema)
        if isinstance(value, dict):
            result = value
            for name, sub in self._bearing_properties(node):
                if name in result:
                    walked = self._aliases_only(result[name], sub, _child(path, name), out)
                    if walked is not result[name]:
                        if result is value:
                            result = dict(value)
                        result[name] = walked
            return result
        items = node.get("items")
        if isinstance(value, list) and isinstance(items, Mapping):
            walked = [self._aliases_only(item, items, f"{path}[{i}]", out) for i, item in enumerate(value)]
            return value if all(a is b for a, b in zip(walked, value, strict=True)) else walked
        if isinstance(value, str) and "enum" in node:
            return self._alias(value, node["enum"], path, out)
        return value

    def _bearing_properties(self, node: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
        """The properties of ``node`` under which an alias can occur (memoised per node)."""
        key = id(node)
        found = self._properties.get(key)
        if found is None:
            properties: Mapping[str, Any] = node.get("properties", {})
            found = [(name, sub) for name, sub in properties.items() if self._bears_alias(sub)]
            self._properties[key] = found
        return found

    def _alias(self, value: str, enum: Sequence[Any], path: str, out: list[Repair]) -> str:
        canonical = self._aliases.get(value)
        if canonical is not None and canonical in enum:
            out.append(Repair(path, "enum_alias", value, canonical))
            return canonical
        return value

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            node: Any = self._root
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def _walk(self, value: Any, schema: Mapping[str, Any], path: str, out: list[Repair]) -> Any:
        schema = self._resolve(schema)
        if isinstance(value, dict):
            return self._object(value, schema, path, out)
        if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
            items = schema["items"]
            walked = [self._walk(item, items, f"{path}[{i}]", out) for i, item in enumerate(value)]
            return value if all(a is b for a, b in zip(walked, value, strict=True)) else walked
        kind = schema.get("type")
        if kind == "string" and isinstance(value, str):
            return self._string(value, schema, path, out)
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            if self._floats_are_not_integers:
                out.append(Repair(path, "number_coerced", value, int(value)))
                return int(value)
            return value
        if kind in ("number", "integer") and not isinstance(value, bool):
            return _number(value, kind == "integer", path, out)
        return value

    def _object(self, value: dict[str, Any], schema: Mapping[str, Any], path: str, out: list[Repair]) -> Any:
        properties: Mapping[str, Any] = schema.get("properties", {})
        result = value
        if schema.get("additionalProperties") is False:
            folded = {name.casefold(): name for name in properties}
            for key in value:
                target = folded.get(key.casefold()) if key not in properties else None
                if target is not None and target not in result:
                    result = {(target if k == key else k): v for k, v in result.items()}
                    out.append(Repair(_child(path, key), "key_case", key, target))
        for name, sub in properties.items():
            if name in result:
                walked = self._walk(result[name], sub, _child(path, name), out)
                if walked is not result[name]:
                    if result is value:
                        result = dict(value)
                    result[name] = walked
        return result

    def _string(self, value: str, schema: Mapping[str, Any], path: str, out: list[Repair]) -> str:
        enum = schema.get("enum")
        if enum is not None:
            canonical = self._alias(value, enum, path, out)
            if canonical is not value:
                return canonical
            if value not in enum:
                matches = [member for member in enum if member.casefold() == value.casefold()]
                if len(matches) == 1:
                    out.append(Repair(path, "enum_case", value, matches[0]))
                    return str(matches[0])
            return value
        if schema.get("format") == "date-time" and not RFC3339.match(value):
            normalised = _timestamp(value)
            if normalised is not None:
                out.append(Repair(path, "timestamp_normalised", value, normalised))
                value = normalised
        limit = schema.get("maxLength")
        if isinstance(limit, int) and len(value) > limit:
            out.append(Repair(path, "truncated", value, value[:limit]))
            return value[:limit]
        return value


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


def _number(value: Any, integer: bool, path: str, out: list[Repair]) -> Any:
    coerced: int | float | None = None
    if isinstance(value, str) and len(value) <= _LONGEST_NUMBER:
        if integer and _INTEGER.match(value):
            coerced = int(value)
        elif _NUMBER.match(value) and math.isfinite(number := float(value)):
            if integer and number.is_integer():
                coerced = int(number)
            elif not integer:
                coerced = int(value) if _INTEGER.match(value) else number
    if coerced is None:
        return value
    out.append(Repair(path, "number_coerced", value, coerced))
    return coerced


def _timestamp(value: str) -> str | None:
    """``value`` as RFC 3339 UTC with ``Z`` (naive means UTC), or ``None`` if it does not parse."""
    text = value.strip()
    if len(text) < 16 or text[10] not in "Tt ":
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError:
        return None
    micro = parsed.microsecond
    timespec = "seconds" if not micro else "milliseconds" if micro % 1000 == 0 else "microseconds"
    return parsed.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"
