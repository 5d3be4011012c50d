"""Events of a station's stream (``station/<id>``): raw frames, connections, and what was decided.

Raw frames (:class:`FrameReceived`, :class:`FrameSent`) keep every message exactly as it crossed the
wire, so anything specific to an OCPP version stays there; the domain events are what the actors
decided from them, in version-neutral terms (:mod:`actors.events.refs`). Fields are stored under
their own names; see :mod:`actors.events.registry` for the stored form and versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from actors.events.refs import IdToken, TransactionId
from actors.events.registry import OMITTED_WHEN_NONE, Event, register, upcaster

# -- raw frames -------------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class FrameReceived(Event):
    """A frame from the station. ``action``: the CALL's (or our command's, for a reply); ``error``:
    the error code it was answered with; ``repairs``: what a lenient validation changed; ``late``:
    a reply that matched no call in flight (True: one that had timed out)."""

    TYPE: ClassVar[str] = "FrameReceived"
    conn: int
    text: str | bytes  # bytes: a binary frame, refused but kept
    action: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    repairs: list[dict[str, Any]] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    error: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    late: bool | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class FrameSent(Event):
    """A frame to the station: a reply, or (with ``action``) one of our commands."""

    TYPE: ClassVar[str] = "FrameSent"
    conn: int | None
    text: str
    action: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


# -- connection lifecycle -------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StationConnected(Event):
    TYPE: ClassVar[str] = "StationConnected"
    conn: int
    subprotocol: str | None
    remote: str | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StationDisconnected(Event):
    TYPE: ClassVar[str] = "StationDisconnected"
    conn: int
    reason: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StationFailed(Event):
    """The station's supervision subtree gave up (actors.station_tree); refused until ``retry_after`` s."""

    TYPE: ClassVar[str] = "StationFailed"
    reason: str
    restarts: int
    retry_after: float


# -- decided from station-initiated messages -------------------------------------------------------


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StationBooted(Event):
    TYPE: ClassVar[str] = "StationBooted"
    status: str | None
    interval: int | None
    vendor: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial: str | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorStatusChanged(Event):
    """A connector's status; connector 0 is the station itself. ``evse``: None under 1.6."""

    TYPE: ClassVar[str] = "ConnectorStatusChanged"
    connector: int
    evse: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    status: str
    error_code: str
    info: str | None
    vendor_error_code: str | None
    vendor_id: str | None
    timestamp: str | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Authorized(Event):
    """v2: ``id_token`` (and ``parent``) are id tokens; v1 had ``id_tag`` and ``parent`` strings."""

    TYPE: ClassVar[str] = "Authorized"
    VERSION: ClassVar[int] = 2
    id_token: IdToken
    status: str | None
    expiry: str | None
    parent: IdToken | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStarted(Event):
    """v2: ``id_token`` and ``parent`` are id tokens (v1: ``id_tag``, ``parent`` strings)."""

    TYPE: ClassVar[str] = "TransactionStarted"
    VERSION: ClassVar[int] = 2
    transaction_id: TransactionId
    connector: int
    evse: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    id_token: IdToken
    meter_start_wh: float
    timestamp: str
    reservation_id: int | None
    status: str | None
    expiry: str | None
    parent: IdToken | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class MeterSampled(Event):
    """Normalised samples (see actors.metering); ``problems``: values that could not be read."""

    TYPE: ClassVar[str] = "MeterSampled"
    connector: int
    evse: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    transaction_id: TransactionId | None
    samples: list[dict[str, Any]]
    problems: list[dict[str, Any]] | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStopped(Event):
    """A transaction ended. ``closed_by``: "station" (its stop message) or "csms" (reason "superseded":
    a newer start on the same connector). ``known`` False: the station stopped a transaction the CSMS
    never saw start (``connector`` and ``energy_wh`` are then None). ``tag_status``: the stop token's
    status, when one was checked.

    v2: ``id_token``/``start_id_token`` are id tokens (v1: ``id_tag``/``start_id_tag`` strings) and
    ``closed_by`` is always there (v1 records before it existed were stops by the station).
    """

    TYPE: ClassVar[str] = "TransactionStopped"
    VERSION: ClassVar[int] = 2
    transaction_id: TransactionId
    connector: int | None
    evse: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    known: bool
    id_token: IdToken | None
    start_id_token: IdToken | None
    meter_stop_wh: float
    energy_wh: float | None
    timestamp: str
    reason: str
    closed_by: str
    tag_status: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStopRepeated(Event):
    """A stop for a transaction already stopped (a station repeating itself): changes nothing.
    v2: ``id_token`` (v1: ``id_tag``)."""

    TYPE: ClassVar[str] = "TransactionStopRepeated"
    VERSION: ClassVar[int] = 2
    transaction_id: TransactionId
    id_token: IdToken | None
    meter_stop_wh: float
    timestamp: str
    reason: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DataTransferred(Event):
    TYPE: ClassVar[str] = "DataTransferred"
    vendor_id: str
    message_id: str | None
    data: Any
    status: str | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosticsStatusChanged(Event):
    TYPE: ClassVar[str] = "DiagnosticsStatusChanged"
    status: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class FirmwareStatusChanged(Event):
    """A firmware status notification; ``request_id`` names the update it reports on (1.6
    SignedFirmwareStatusNotification, 2.0.1 FirmwareStatusNotification), None where there is none."""

    TYPE: ClassVar[str] = "FirmwareStatusChanged"
    status: str
    request_id: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)


# -- decided from the replies to our commands ------------------------------------------------------


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CommandCompleted(Event):
    """How one of our commands ended. ``outcome``: result (with ``response``), error or invalid or
    malformed (with ``code``, ``description``), timeout; ``round_trip`` in seconds when answered."""

    TYPE: ClassVar[str] = "CommandCompleted"
    action: str
    unique_id: str
    outcome: str
    response: dict[str, Any] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    code: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    description: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    round_trip: float | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigurationReported(Event):
    """``keys``: ``[{key, value, readonly}]``; ``unknown``: keys the station does not have."""

    TYPE: ClassVar[str] = "ConfigurationReported"
    keys: list[dict[str, Any]]
    unknown: list[str]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigurationChanged(Event):
    TYPE: ClassVar[str] = "ConfigurationChanged"
    key: str
    value: str
    status: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationMade(Event):
    """v2: ``id_token`` (v1: ``id_tag``)."""

    TYPE: ClassVar[str] = "ReservationMade"
    VERSION: ClassVar[int] = 2
    connector: int
    evse: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    reservation_id: int
    id_token: IdToken
    expiry: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationCancelled(Event):
    TYPE: ClassVar[str] = "ReservationCancelled"
    reservation_id: int


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingProfileSet(Event):
    """``profile``: the profile as the station accepted it (OCPP's own shape)."""

    TYPE: ClassVar[str] = "ChargingProfileSet"
    connector: int
    evse: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    profile: dict[str, Any]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingProfileCleared(Event):
    """``criteria``: the clear request's fields (id, connectorId, chargingProfilePurpose, stackLevel)."""

    TYPE: ClassVar[str] = "ChargingProfileCleared"
    criteria: dict[str, Any]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class LocalListSent(Event):
    """An accepted SendLocalList: the list's new ``version``, ``Full`` or ``Differential``, and its
    ``entries`` as sent (localAuthorizationList: 1.6's ``{"idTag", "idTagInfo"?}``, 2.0.1's
    ``{"idToken": {"idToken", "type"}, "idTokenInfo"?}``; without the info: removed)."""

    TYPE: ClassVar[str] = "LocalListSent"
    version: int
    update_type: str
    entries: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileStarted(Event):
    """The server began re-applying what it intends the station to have; ``trigger``: ``boot`` (after
    a BootNotification) or ``reconnect`` (the first connection since the server started)."""

    TYPE: ClassVar[str] = "ReconcileStarted"
    trigger: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileStep(Event):
    """One step of a reconciliation: ``kind`` (``profile``, ``configuration``, ``local_list``), what it
    is about (``target``: a profile id, a key, a list version), and ``outcome``: ``in_sync`` (nothing
    to do), ``applied`` (sent and accepted), ``rejected`` (the station said no) or ``failed`` (no
    answer, a CALLERROR, offline), with ``detail`` saying why."""

    TYPE: ClassVar[str] = "ReconcileStep"
    kind: str
    target: str
    outcome: str
    detail: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileFinished(Event):
    """The reconciliation ended: ``outcome`` ``done`` (every step in sync or applied) or ``failed``;
    how many steps applied something and how many were rejected or failed."""

    TYPE: ClassVar[str] = "ReconcileFinished"
    outcome: str
    applied: int
    failed: int


# -- upcasters: version 1 (the build before typed events) to 2 ---------------------------------------


def _token(data: dict[str, Any], old: str, new: str) -> None:
    tag = data.pop(old, None)
    data[new] = None if tag is None else {"id": tag, "type": None}


@upcaster(Authorized, 1)
def _authorized_1(data: dict[str, Any]) -> dict[str, Any]:
    _token(data, "id_tag", "id_token")
    _token(data, "parent", "parent")
    return data


@upcaster(TransactionStarted, 1)
def _started_1(data: dict[str, Any]) -> dict[str, Any]:
    _token(data, "id_tag", "id_token")
    _token(data, "parent", "parent")
    return data


@upcaster(TransactionStopped, 1)
def _stopped_1(data: dict[str, Any]) -> dict[str, Any]:
    _token(data, "id_tag", "id_token")
    _token(data, "start_id_tag", "start_id_token")
    data.setdefault("closed_by", "station")  # logged before closed_by existed: the station's stops
    return data


@upcaster(TransactionStopRepeated, 1)
def _stop_repeated_1(data: dict[str, Any]) -> dict[str, Any]:
    _token(data, "id_tag", "id_token")
    return data


@upcaster(ReservationMade, 1)
def _reservation_1(data: dict[str, Any]) -> dict[str, Any]:
    _token(data, "id_tag", "id_token")
    return data


# -- OCPP 2.0.1: transactions' event sequence and the device model --------------------------------


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionEventReported(Event):
    """A 2.0.1 TransactionEvent recorded once (a repeated ``seq_no`` is answered, not recorded again):
    its place in the transaction's sequence and why the station sent it. ``energy_wh``: the energy
    register it carried, if any. The start, samples and end themselves are TransactionStarted,
    MeterSampled and TransactionStopped beside it."""

    TYPE: ClassVar[str] = "TransactionEventReported"
    transaction_id: TransactionId
    evse: int | None
    event_type: str
    seq_no: int
    trigger_reason: str
    offline: bool
    charging_state: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    stopped_reason: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    energy_wh: float | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionEventGap(Event):
    """TransactionEvents of a transaction are missing: ``received`` came where ``expected`` was due."""

    TYPE: ClassVar[str] = "TransactionEventGap"
    transaction_id: TransactionId
    expected: int
    received: int


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class VariablesReported(Event):
    """Components and variables a station reported (2.0.1 NotifyReport, one part of a report).

    Each entry: ``component`` (name), ``instance``, ``evse``/``connector`` of the component,
    ``variable`` (name), ``variable_instance`` and ``attributes``: ``{type: value}`` (Actual, Target,
    MinSet, MaxSet), plus ``mutability`` per type when reported."""

    TYPE: ClassVar[str] = "VariablesReported"
    request_id: int
    seq_no: int
    tbc: bool
    variables: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class VariablesRead(Event):
    """A GetVariables result: per variable asked, its ``status`` and the ``value`` when Accepted."""

    TYPE: ClassVar[str] = "VariablesRead"
    results: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class VariablesSet(Event):
    """A SetVariables result: per variable, the ``value`` asked for and the station's ``status``."""

    TYPE: ClassVar[str] = "VariablesSet"
    results: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EVChargingNeedsNotified(Event):
    """What an EV needs (2.0.1 NotifyEVChargingNeeds), handed to the registered schedule decider.

    ``transfer_mode``: AC_single_phase, AC_three_phase, DC, ...; energy in Wh, current in A, power
    in W as the station reported them; ``departure``: when the EV leaves (ISO 8601) if known;
    ``status``: what the station was answered (Accepted, Processing, Rejected)."""

    TYPE: ClassVar[str] = "EVChargingNeedsNotified"
    evse: int
    connector: int
    transfer_mode: str
    departure: str | None
    energy_wh: float | None
    min_current_a: float | None
    max_current_a: float | None
    min_power_w: float | None
    max_power_w: float | None
    status: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StationEventsNotified(Event):
    """2.0.1 NotifyEvent (one part of it): what the station's monitors raised or cleared. Each entry:
    ``event_id``, ``timestamp``, ``trigger``, ``component``/``evse``/``connector``/``variable``,
    ``actual_value``, ``cleared``, ``tech_code``, ``tech_info``, ``cause``, ``notification_type``."""

    TYPE: ClassVar[str] = "StationEventsNotified"
    seq_no: int
    tbc: bool
    events: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityEventNotified(Event):
    """A SecurityEventNotification: the security event's ``kind`` (its type), when, and detail."""

    TYPE: ClassVar[str] = "SecurityEventNotified"
    kind: str
    timestamp: str
    tech_info: str | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class LogStatusChanged(Event):
    """A LogStatusNotification: how an upload asked for with GetLog is going."""

    TYPE: ClassVar[str] = "LogStatusChanged"
    status: str
    request_id: int | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingProfilesReported(Event):
    """2.0.1 ReportChargingProfiles (one part of the answer to our GetChargingProfiles): the profiles
    the station holds on ``evse`` from ``source`` (CSO, EMS, SO, ...), each in the neutral (1.6)
    shape ``ChargingProfileSet`` records (``actors.ocpp.v201.profiles``)."""

    TYPE: ClassVar[str] = "ChargingProfilesReported"
    request_id: int
    source: str
    evse: int
    tbc: bool
    profiles: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingLimitNotified(Event):
    """2.0.1 NotifyChargingLimit: a limit from outside the CSMS (``source``: EMS, SO, Other) in
    force at the station, on ``evse`` if it names one, with its schedules (neutral shape) if given."""

    TYPE: ClassVar[str] = "ChargingLimitNotified"
    source: str
    grid_critical: bool | None
    evse: int | None
    schedules: list[dict[str, Any]]


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingLimitCleared(Event):
    """2.0.1 ClearedChargingLimit: the external limit from ``source`` no longer holds (on ``evse``)."""

    TYPE: ClassVar[str] = "ChargingLimitCleared"
    source: str
    evse: int | None


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class EVChargingScheduleNotified(Event):
    """2.0.1 NotifyEVChargingSchedule: the schedule the EV plans on ``evse`` (neutral shape), from
    ``time_base``; ``status``: what the station was answered."""

    TYPE: ClassVar[str] = "EVChargingScheduleNotified"
    evse: int
    time_base: str
    schedule: dict[str, Any]
    status: str
