"""The OCPP 1.6 dialect: its action table, schemas and decisions as one
:class:`~actors.ocpp.dialect.Dialect`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.ocpp.dialect import Dialect, Requests
from actors.ocpp.v16 import decisions
from actors.ocpp.v16.actions import TABLE


def _boot_vendor(request: Mapping[str, Any]) -> str | None:
    vendor = request.get("chargePointVendor")
    return vendor if isinstance(vendor, str) else None


def _composite(connector: int, duration: int, unit: str) -> dict[str, Any]:
    return {"connectorId": connector, "duration": duration, "chargingRateUnit": unit}


def _as_is(payload: Mapping[str, Any]) -> dict[str, Any]:
    return dict(payload)


REQUESTS = Requests(
    composite=_composite,
    composite_conf=_as_is,
    set_profile=_as_is,
    local_list=_as_is,
    local_list_version=lambda reply: reply.get("listVersion"),
)

DIALECT = Dialect(
    actions=TABLE,
    builtin_response=decisions.builtin_response,
    domain_events=decisions.domain_events,
    command_events=decisions.command_events,
    allocates_transaction_id=frozenset({"StartTransaction"}),
    boot_vendor=_boot_vendor,
    requests=REQUESTS,
)
