"""The API's response bodies as pydantic models, so /openapi.json says exactly what comes back.

Field names follow the live-state views (``projections.live``), which are snake_case like the
domain events; command payloads stay camelCase, as they go on the wire.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """Every error response: a stable machine-readable ``error`` and a human ``message``."""

    error: str = Field(description="stable error kind, e.g. unknown_station, invalid_payload")
    message: str
    code: str | None = Field(default=None, description="OCPP CALLERROR code (502 only)")
    description: str | None = Field(default=None, description="OCPP CALLERROR description (502 only)")
    details: Any = Field(default=None, description="CALLERROR details (502) or the failing fields (422)")


class Connector(BaseModel):
    connector: int
    status: str | None
    error_code: str | None
    info: str | None
    vendor_error_code: str | None
    status_time: str | None
    transaction_id: int | str | None = Field(description="the active transaction, if any (2.0.1: a string)")
    id_tag: str | None
    reservation: dict[str, Any] | None
    power_w: float | None = Field(description="active power (W)")
    power_va: float | None = Field(
        default=None, description="apparent power (VA), when the station reports Power.Active.Import in VA"
    )
    energy_wh: float | None
    current_a: dict[str, float] = Field(description="by phase ('' when the station gave none)")
    voltage_v: dict[str, float]
    soc_percent: float | None
    temperature_c: float | None
    last_sample_time: str | None
    charging_profiles: list[dict[str, Any]]
    position: int = Field(description="global log position of the last event folded in")


class Station(BaseModel):
    station_id: str
    connected: bool
    connection: int | None = Field(description="number of the current (or last) connection")
    remote: str | None = Field(description="peer address of that connection")
    ocpp_version: str | None = Field(
        default=None, description="OCPP version of that connection (1.6 or 2.0.1), from its subprotocol"
    )
    boot: dict[str, Any] = Field(description="the last accepted BootNotification, as a domain event")
    status: str | None = Field(description="status of connector 0, the station itself")
    error_code: str | None
    firmware_status: str | None
    diagnostics_status: str | None
    last_seen: str | None
    last_heartbeat: str | None
    configuration: dict[str, Any]
    charging_profiles: list[dict[str, Any]] = Field(
        description="profiles installed on connector 0, for the whole station"
    )
    reconciliation: dict[str, Any] | None = Field(
        default=None,
        description="the last re-application of what the server intends the station to have, after a "
        "boot or the first connection since the server started: state (running, done, failed), "
        "trigger, started, finished, applied, failed (step counts), last_failure",
    )
    failed: dict[str, Any] | None = Field(
        description="the last StationFailed (time, reason, restarts, retry_after s) until the station "
        "connects again: its actor kept crashing, so it was stopped and refused for retry_after s"
    )
    connectors: list[Connector]


class StationPage(BaseModel):
    stations: list[Station]
    next_after: str | None = Field(description="pass as ?after= for the next page; null on the last")


class Transaction(BaseModel):
    transaction_id: int | str  # 1.6: the CSMS's integer; 2.0.1: the station's string
    station_id: str
    connector: int | None
    id_tag: str
    started: str
    meter_start_wh: float
    tag_status: str | None
    stopped: str | None
    meter_stop_wh: float | None
    energy_wh: float | None
    stop_reason: str | None
    stop_id_tag: str | None
    closed_by: str | None = Field(
        description="who ended it: 'station' (its StopTransaction) or 'csms' (a newer transaction "
        "started on the same connector: stop_reason 'superseded')"
    )
    active: bool


class TransactionPage(BaseModel):
    transactions: list[Transaction]
    next_after: int | str | None = Field(
        description="pass as ?after= for the next page; null on the last (the last id: an integer, "
        "or 's:' and a 2.0.1 station's string id)"
    )


class MeterSample(BaseModel):
    """One MeterSampled event of the transaction (one MeterValue of the station)."""

    position: int
    time: str = Field(description="when the CSMS recorded it")
    connector: int
    samples: list[dict[str, Any]]


class TransactionDetail(Transaction):
    samples: list[MeterSample]
    samples_truncated: bool = Field(
        description="more samples follow: pass the last one's position as ?after= for the next page"
    )


class Event(BaseModel):
    """A stored event, raw protocol frame or domain event, decoded to JSON."""

    stream: str
    sequence: int
    position: int
    type: str
    time: str
    data: dict[str, Any] = Field(description="datetimes as ISO 8601, bytes as base64")


class EventPage(BaseModel):
    events: list[Event]
    next_after: int | None = Field(description="sequence to pass as ?after= for more; null when caught up")


class ConnectorProfiles(BaseModel):
    connector: int = Field(description="0: the station as a whole")
    profiles: list[dict[str, Any]] = Field(description="csChargingProfiles as the station accepted them")


class ChargingProfiles(BaseModel):
    station_id: str
    connectors: list[ConnectorProfiles]


class CompositeAnswer(BaseModel):
    station_id: str
    computed: dict[str, Any] = Field(
        description="the composite the server computes, shaped like a 1.6 GetCompositeSchedule.conf"
    )
    station: dict[str, Any] | None = Field(
        description="source=station: the station's GetCompositeSchedule.conf; null otherwise"
    )
    match: bool | None = Field(
        description="source=station: whether both agree at every instant within 0.1 in the unit"
    )


class StationVariables(BaseModel):
    """The device model of a 2.0.1 station (empty for 1.6): NotifyReport, GetVariables, SetVariables."""

    station_id: str
    variables: dict[str, dict[str, Any]] = Field(
        description="by 'Component[instance]@evse.connector/Variable[instance]': the address fields, "
        "attributes {Actual|Target|MinSet|MaxSet: value}, mutability per type, and set: the last "
        "SetVariables outcome per type {value, status}"
    )


class Lease(BaseModel):
    station: str
    epoch: int = Field(description="raised by every change of the station's node; appends check it")
    expires: str = Field(description="when the lease runs out unless the node's heartbeat renews it")


class Node(BaseModel):
    node: str
    alive: bool = Field(description="the node's process still holds its PostgreSQL connection")
    started: str
    heartbeat: str = Field(description="the node's last heartbeat (PostgreSQL's clock)")
    stopped: str | None = Field(description="when it stopped cleanly, releasing its leases")
    leases: list[Lease] = Field(description="the stations it serves")


class NodeList(BaseModel):
    cluster: bool = Field(description="whether this server runs as one of several nodes (serve --node)")
    node: str | None = Field(description="this server's node name")
    nodes: list[Node]
