"""The OCPP 2.0.1 dialect: its action table, schemas and decisions as one
:class:`~actors.ocpp.dialect.Dialect`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.ocpp.dialect import Dialect, Requests
from actors.ocpp.v201 import decisions, profiles
from actors.ocpp.v201.actions import TABLE


def _boot_vendor(request: Mapping[str, Any]) -> str | None:
    station = request.get("chargingStation")
    vendor = station.get("vendorName") if isinstance(station, Mapping) else None
    return vendor if isinstance(vendor, str) else None


def _set_profile(request: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "evseId": request["connectorId"],
        "chargingProfile": profiles.profile_201(request["csChargingProfiles"]),
    }


def _local_list(request: Mapping[str, Any]) -> dict[str, Any]:
    """The entries a 2.0.1 SendLocalList recorded are 2.0.1's already (``actors.desired_state``)."""
    return {
        "versionNumber": request["listVersion"],
        "updateType": request["updateType"],
        "localAuthorizationList": list(request["localAuthorizationList"]),
    }


REQUESTS = Requests(
    composite=profiles.composite_request,
    composite_conf=profiles.composite_conf,
    set_profile=_set_profile,
    local_list=_local_list,
    local_list_version=lambda reply: reply.get("versionNumber"),
)

DIALECT = Dialect(
    actions=TABLE,
    builtin_response=decisions.builtin_response,
    domain_events=decisions.domain_events,
    command_events=decisions.command_events,
    allocates_transaction_id=frozenset(),  # a 2.0.1 station names its own transactions
    boot_vendor=_boot_vendor,
    requests=REQUESTS,
)
