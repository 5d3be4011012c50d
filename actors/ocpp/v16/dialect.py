"""The OCPP 1.6 dialect: its action table, schemas and decisions as one
:class:`~actors.ocpp.dialect.Dialect`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.ocpp.dialect import Dialect
from actors.ocpp.v16 import decisions
from actors.ocpp.v16.actions import TABLE


def _boot_vendor(request: Mapping[str, Any]) -> str | None:
    vendor = request.get("chargePointVendor")
    return vendor if isinstance(vendor, str) else None


DIALECT = Dialect(
    actions=TABLE,
    builtin_response=decisions.builtin_response,
    domain_events=decisions.domain_events,
    command_events=decisions.command_events,
    allocates_transaction_id=frozenset({"StartTransaction"}),
    boot_vendor=_boot_vendor,
)
