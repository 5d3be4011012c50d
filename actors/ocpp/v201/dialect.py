"""The OCPP 2.0.1 dialect: its action table, schemas and decisions as one
:class:`~actors.ocpp.dialect.Dialect`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.ocpp.dialect import Dialect
from actors.ocpp.v201 import decisions
from actors.ocpp.v201.actions import TABLE


def _boot_vendor(request: Mapping[str, Any]) -> str | None:
    station = request.get("chargingStation")
    vendor = station.get("vendorName") if isinstance(station, Mapping) else None
    return vendor if isinstance(vendor, str) else None


DIALECT = Dialect(
    actions=TABLE,
    builtin_response=decisions.builtin_response,
    domain_events=decisions.domain_events,
    command_events=decisions.command_events,
    allocates_transaction_id=frozenset(),  # a 2.0.1 station names its own transactions
    boot_vendor=_boot_vendor,
)
