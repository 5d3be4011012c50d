"""Load device profiles from TOML into validated :class:`actors.device_profile.DeviceProfile` objects.

A profile file has a ``[profile]`` table (name, kind, max_gap), optional ``[defaults]`` for the
point fields, one ``[points.<name>]`` table per register value, and for an EVSE a ``[control]``
table naming the setpoint and enable points. Every mistake (a typo'd key, a wrong type, an
unknown data type or unit, overlapping or out-of-range registers) raises
:class:`ProfileConfigError` naming the file and the dotted key, before any device is touched.

Shipped profiles live in ``adapters/profiles/`` as package data; see :func:`load_shipped_profile`.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from actors.device_link import RegisterFunction
from actors.device_profile import DeviceKind, DeviceProfile, EvseControl, ProfileError, RegisterPoint
from actors.registers import ByteOrder, DataType, WordOrder

_PROFILE_KEYS = {"name", "kind", "max_gap"}
_POINT_KEYS = {
    "address",
    "function",
    "type",
    "word_order",
    "byte_order",
    "scale",
    "unit",
    "measurand",
    "phase",
}
_CONTROL_KEYS = {"setpoint", "enable", "enable_value", "disable_value", "min_current", "max_current"}
_TOP_KEYS = {"profile", "defaults", "points", "control"}


class ProfileConfigError(ValueError):
    """A profile file is invalid: ``source`` is the file, ``key`` the dotted TOML key at fault."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        super().__init__(f"{source}: {key}: {message}")


def load_profile(path: str | Path) -> DeviceProfile:
    """Load and validate a profile from a TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileConfigError(str(path), "(file)", f"cannot read: {exc}") from exc
    return parse_profile(text, str(path))


def load_shipped_profile(name: str) -> DeviceProfile:
    """Load one of the profiles shipped in ``adapters/profiles`` by its file stem."""
    resource = importlib.resources.files("adapters.profiles") / f"{name}.toml"
    if not resource.is_file():
        raise ProfileConfigError(
            f"{name}.toml", "(file)", f"no shipped profile; have {shipped_profile_names()}"
        )
    return parse_profile(resource.read_text(encoding="utf-8"), f"adapters/profiles/{name}.toml")


def shipped_profile_names() -> list[str]:
    """The stems of every shipped profile."""
    folder = importlib.resources.files("adapters.profiles")
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".toml"))


def parse_profile(text: str, source: str) -> DeviceProfile:
    """Parse TOML text into a profile; ``source`` names the file in errors."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileConfigError(source, "(syntax)", str(exc)) from exc
    try:
        return _build(document)
    except ProfileError as exc:
        raise ProfileConfigError(source, exc.key, exc.message) from exc


def _build(document: Mapping[str, Any]) -> DeviceProfile:
    _only(document, _TOP_KEYS, "")
    header = _table(document, "profile")
    _only(header, _PROFILE_KEYS, "profile.")
    defaults = _table(document, "defaults", required=False)
    _only(defaults, _POINT_KEYS - {"address"}, "defaults.")
    points_table = _table(document, "points")
    points = tuple(
        _point(name, {**defaults, **_table(points_table, name, prefix="points.")}) for name in points_table
    )
    control_table = _table(document, "control", required=False)
    control = _control(control_table) if control_table else None
    return DeviceProfile(
        name=_get(header, "name", str, "profile."),
        kind=_enum(DeviceKind, _get(header, "kind", str, "profile."), "profile.kind"),
        points=points,
        control=control,
        max_gap=_get(header, "max_gap", int, "profile.", 0),
    )


def _point(name: str, fields: Mapping[str, Any]) -> RegisterPoint:
    prefix = f"points.{name}."
    _only(fields, _POINT_KEYS, prefix)
    return RegisterPoint(
        name=name,
        address=_get(fields, "address", int, prefix),
        function=_enum(RegisterFunction, _get(fields, "function", str, prefix), prefix + "function"),
        dtype=_enum(DataType, _get(fields, "type", str, prefix), prefix + "type"),
        word_order=_enum(WordOrder, _get(fields, "word_order", str, prefix, "big"), prefix + "word_order"),
        byte_order=_enum(ByteOrder, _get(fields, "byte_order", str, prefix, "big"), prefix + "byte_order"),
        scale=_get(fields, "scale", float, prefix, 1.0),
        unit=_get(fields, "unit", str, prefix, ""),
        measurand=_get(fields, "measurand", str, prefix, None),
        phase=_get(fields, "phase", str, prefix, None),
    )


def _control(table: Mapping[str, Any]) -> EvseControl:
    _only(table, _CONTROL_KEYS, "control.")
    return EvseControl(
        setpoint=_get(table, "setpoint", str, "control."),
        min_current=_get(table, "min_current", float, "control."),
        max_current=_get(table, "max_current", float, "control."),
        enable=_get(table, "enable", str, "control.", None),
        enable_value=_get(table, "enable_value", int, "control.", 1),
        disable_value=_get(table, "disable_value", int, "control.", 0),
    )


_MISSING = object()


def _get(table: Mapping[str, Any], key: str, kind: type, prefix: str, default: Any = _MISSING) -> Any:
    """A typed value; ints are accepted where floats are asked, bools never count as numbers."""
    if key not in table:
        if default is _MISSING:
            raise ProfileError(prefix + key, "is required")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ProfileError(prefix + key, f"must be {kind.__name__}, got {value!r}")
    return value


def _enum(kind: Any, value: str, key: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ProfileError(key, f"unknown value {value!r}; one of {[m.value for m in kind]}") from None


def _table(
    table: Mapping[str, Any], key: str, *, required: bool = True, prefix: str = ""
) -> Mapping[str, Any]:
    value = table.get(key)
    if value is None:
        if required:
            raise ProfileError(prefix + key, "table is required")
        return {}
    if not isinstance(value, dict):
        raise ProfileError(prefix + key, f"must be a table, got {value!r}")
    return value


def _only(table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ProfileError(prefix + key, f"unknown key; allowed: {sorted(allowed)}")
