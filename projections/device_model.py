"""The device model of OCPP 2.0.1 stations: the components and variables each reported, with values.

Folded into the live state (``StationView.variables``, ``GET /api/stations/{id}/variables``) from
three events: NotifyReport parts (``VariablesReported``: every attribute reported, with its
mutability), GetVariables results (``VariablesRead``: an Accepted read updates the attribute's
value) and SetVariables results (``VariablesSet``: the outcome kept under ``set``; an Accepted set
is in force, so the attribute takes the value; RebootRequired takes effect later and is only kept as
the result). A variable is keyed by ``Component[instance]@evse.connector/Variable[instance]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.events.station import VariablesRead, VariablesReported, VariablesSet

DeviceModel = dict[str, dict[str, Any]]

_ADDRESS = ("component", "instance", "evse", "connector", "variable", "variable_instance")


def variable_key(entry: Mapping[str, Any]) -> str:
    """The key of the variable an event entry names."""
    component = entry["component"] + (f"[{entry['instance']}]" if entry.get("instance") else "")
    if entry.get("evse") is not None:
        component += f"@{entry['evse']}"
        if entry.get("connector") is not None:
            component += f".{entry['connector']}"
    variable = entry["variable"] + (
        f"[{entry['variable_instance']}]" if entry.get("variable_instance") else ""
    )
    return f"{component}/{variable}"


def _variable(model: DeviceModel, entry: Mapping[str, Any]) -> dict[str, Any]:
    key = variable_key(entry)
    found = model.get(key)
    if found is None:
        found = model[key] = {name: entry.get(name) for name in _ADDRESS}
        found["attributes"] = {}
    return found


def fold_reported(model: DeviceModel, event: VariablesReported) -> None:
    for entry in event.variables:
        variable = _variable(model, entry)
        variable["attributes"].update(entry.get("attributes", {}))
        mutability = {k: v for k, v in (entry.get("mutability") or {}).items() if v is not None}
        if mutability:
            variable.setdefault("mutability", {}).update(mutability)


def fold_read(model: DeviceModel, event: VariablesRead) -> None:
    for result in event.results:
        if result.get("status") == "Accepted":
            _variable(model, result)["attributes"][result.get("type", "Actual")] = result.get("value")


def fold_set(model: DeviceModel, event: VariablesSet) -> None:
    for result in event.results:
        variable = _variable(model, result)
        kind = result.get("type", "Actual")
        variable.setdefault("set", {})[kind] = {"value": result.get("value"), "status": result.get("status")}
        if result.get("status") == "Accepted":
            variable["attributes"][kind] = result.get("value")
