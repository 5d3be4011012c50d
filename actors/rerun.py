"""Re-running this build's decisions over a station's recorded log (``chargeward replay --rerun``).

Every recorded inbound frame (``FrameReceived``, with its recorded time and connection) goes through
a fresh sans-I/O :class:`~actors.ocpp.Session` per recorded connection and the same pure steps the
station actor takes (:mod:`actors.frame_decisions`, :mod:`actors.decisions`) under the given fleet
policy. What this build would record for the frame (the FrameReceived itself, its domain events and
the FrameSent answering it) is compared with what the log holds for it, event by event.

Each frame is decided in the state the *recorded* log had just before it (the recorded records are
folded, not the re-run's), so a changed decision shows once, at the frame that made it, and does not
cascade into every later frame.

What legitimately differs between two runs is taken from the recording, never compared:

- the transaction id answering a StartTransaction (allocated from the node's block): the recorded
  reply's ``transactionId`` is reused; a recorded answer without one (an allocation failure) is
  re-run as that failure;
- the server's clock: decisions get the frame's recorded receive time as "now", so a Heartbeat's or
  BootNotification's ``currentTime`` is reproduced, not normalised;
- our own message ids: CSMS-initiated calls (``FrameSent`` with an ``action``) are operator input,
  not decisions; they are fed to the session with their recorded ids (so the station's replies match)
  and not compared;
- a command's ``round_trip`` (a measured duration) is copied from the recorded ``CommandCompleted``;
- a command timeout (a recorded ``CommandCompleted`` without a reply) is replayed as the session's
  expiry at that point: when a call timed out is the clock's doing, not a decision.

Replies to our commands are re-decided (their CommandCompleted and domain events). Registered
handlers (an embedding application's code) are not part of the re-run: answers come from the
built-in rules, as under ``chargeward serve``. Connection events and supervision records are folded,
not re-decided. Both sides go through the store's codec before comparing, so they compare as stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from actors import event_types as ev
from actors.decisions import builtin_response, domain_events
from actors.frame_decisions import admit_call, checked_response, decide_reply, repairs_record
from actors.ocpp import (
    BadFrame,
    CallFailed,
    CallReceived,
    CallRefused,
    ErrorCode,
    ErrorReceived,
    OcppError,
    ReplyDropped,
    ResultReceived,
    Role,
    Session,
    Validator,
)
from actors.policy import FleetPolicy
from actors.station_state import StationState
from core.codec import pack, unpack
from core.events import EventRecord

Decided = list[tuple[str, dict[str, Any]]]


class RerunError(Exception):
    """The recorded log cannot be re-run (a record lacks what its type promises)."""


@dataclass(frozen=True, slots=True)
class Difference:
    """One event where the re-run differs: ``index`` is the recorded event's sequence in its stream
    (or, for an event only the re-run produces, the sequence after the frame's last recorded event);
    ``recorded`` or ``rerun`` is None when only the other side has an event there."""

    station: str
    index: int
    frame: str
    recorded: dict[str, Any] | None
    rerun: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "station": self.station,
            "index": self.index,
            "frame": self.frame,
            "recorded": self.recorded,
            "rerun": self.rerun,
        }


@dataclass
class StationRerun:
    """The outcome for one station: frames fed and every difference found."""

    station: str
    frames: int = 0
    differences: list[Difference] = field(default_factory=list)


def _group_end(records: Sequence[EventRecord], start: int) -> int:
    """The index after the records one inbound frame at ``start`` was committed with."""
    end = start + 1
    while end < len(records):
        record = records[end]
        if record.type in (
            ev.FRAME_RECEIVED,
            ev.STATION_CONNECTED,
            ev.STATION_DISCONNECTED,
            ev.STATION_FAILED,
        ):
            break
        if record.type == ev.FRAME_SENT and "action" in record.data:
            break  # one of our commands going out
        if record.type == ev.COMMAND_COMPLETED and end > start + 1:
            break  # a later timeout, not this reply's completion
        end += 1
        if record.type == ev.FRAME_SENT:
            break  # the answer closes the frame's commit
    return end


def _as_stored(events: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = unpack(pack([{"type": t, "data": dict(d)} for t, d in events]))
    return stored


class _Rerunner:
    def __init__(self, station: str, policy: FleetPolicy) -> None:
        self.station = station
        self.fleet = policy
        self.state = StationState()
        self.session: Session | None = None
        self.commands: dict[str, dict[str, Any]] = {}  # our calls' unique id -> request payload
        self.outcome = StationRerun(station)

    def validator(self) -> Validator:
        policy = self.fleet.for_station(self.station, self.state.vendor)
        return Validator("1.6", policy.validation, policy.aliases)

    def run(self, records: Sequence[EventRecord]) -> StationRerun:
        i = 0
        while i < len(records):
            record = records[i]
            if record.type == ev.FRAME_RECEIVED:
                end = _group_end(records, i)
                self._frame(records[i:end])
                self.state.apply_all(records[i:end])
                i = end
                continue
            self._other(record)
            self.state.apply(record)
            i += 1
        return self.outcome

    def _other(self, record: EventRecord) -> None:
        data = record.data
        if record.type == ev.STATION_CONNECTED:
            timeout = self.fleet.for_station(self.station, self.state.vendor).call_timeout
            self.session = Session(Role.CSMS, timeout=timeout, id_prefix=f"{data['conn']}-")
            self.commands.clear()
        elif record.type == ev.STATION_DISCONNECTED:
            self.session = None
        elif record.type == ev.FRAME_SENT and "action" in data and self.session is not None:
            message = json.loads(data["text"])
            self.commands[message[1]] = message[3]
            self.session.resume_call(message[1], data["action"], record.time.timestamp())
        elif record.type == ev.COMMAND_COMPLETED and self.session is not None:
            self.session.expire(math.inf)  # a timeout: no reply came

    def _frame(self, group: Sequence[EventRecord]) -> None:
        first = group[0]
        self.outcome.frames += 1
        if self.session is None:  # a log without its connection record: decide in a fresh session
            self.session = Session(Role.CSMS, id_prefix=f"{first.data['conn']}-")
        decided: Decided = []
        for event in self.session.receive(first.data["text"], first.time.timestamp()):
            decided.extend(self._decide(event, group))
        self._compare(group, decided)

    def _decide(self, event: object, group: Sequence[EventRecord]) -> Decided:
        assert self.session is not None
        frame = group[0]
        conn, text = frame.data["conn"], frame.data["text"]
        if isinstance(event, CallReceived):
            return self._call(event, group)
        if isinstance(event, ResultReceived | ErrorReceived | CallFailed):
            decision = decide_reply(event, self.commands.pop(event.unique_id, {}), self.validator())
            recorded = next((r.data for r in group if r.type == ev.COMMAND_COMPLETED), {})
            completed = {**decision.completed, "round_trip": recorded.get("round_trip")}
            return [
                (ev.FRAME_RECEIVED, {"conn": conn, "text": text, "action": event.action}),
                (ev.COMMAND_COMPLETED, completed),
                *decision.domain,
            ]
        if isinstance(event, BadFrame | CallRefused):
            refused: Decided = [
                (ev.FRAME_RECEIVED, {"conn": conn, "text": text, "error": event.error.code.value})
            ]
            if event.reply is not None:
                refused.append((ev.FRAME_SENT, {"conn": conn, "text": event.reply}))
            return refused
        if isinstance(event, ReplyDropped):
            return [(ev.FRAME_RECEIVED, {"conn": conn, "text": text, "late": event.late})]
        return []  # CallRepeated: the pending answer serves it; nothing is recorded

    def _call(self, call: CallReceived, group: Sequence[EventRecord]) -> Decided:
        assert self.session is not None
        frame = group[0]
        conn = frame.data["conn"]
        received: dict[str, Any] = {"conn": conn, "text": frame.data["text"], "action": call.action}
        domain: Decided = []
        try:
            checked = admit_call(
                call.action,
                call.payload,
                state=self.state,
                validator=self.validator(),
                max_connector_id=self.fleet.max_connector_id,
            )
            if checked.repairs:
                received["repairs"] = repairs_record(checked.repairs)
            response = self._respond(call.action, checked.payload, frame, group)
            domain = domain_events(call.action, checked.payload, response, self.state)
            reply = self.session.answer(call.unique_id, response)
        except OcppError as error:
            received["error"] = error.code.value
            reply = self.session.answer_error(call.unique_id, error)
        return [(ev.FRAME_RECEIVED, received), *domain, (ev.FRAME_SENT, {"conn": conn, "text": reply})]

    def _respond(
        self, action: str, request: dict[str, Any], frame: EventRecord, group: Sequence[EventRecord]
    ) -> dict[str, Any]:
        transaction_id = None
        if action == "StartTransaction":
            transaction_id = _recorded_transaction_id(group)
            if transaction_id is None:
                raise OcppError(ErrorCode.INTERNAL_ERROR, "no transaction id could be allocated")
        response = builtin_response(
            action,
            request,
            station_id=self.station,
            state=self.state,
            policy=self.fleet,
            now=frame.time,
            transaction_id=transaction_id,
        )
        try:
            return checked_response(action, response)
        except OcppError as error:
            raise OcppError(ErrorCode.INTERNAL_ERROR, f"the {action} response was invalid") from error

    def _compare(self, group: Sequence[EventRecord], decided: Decided) -> None:
        recorded = _as_stored((r.type, r.data) for r in group)
        rerun = _as_stored(decided)
        frame = str(group[0].data["text"])
        for n in range(max(len(recorded), len(rerun))):
            mine = rerun[n] if n < len(rerun) else None
            theirs = recorded[n] if n < len(recorded) else None
            if mine != theirs:
                index = group[n].sequence if n < len(group) else group[-1].sequence + 1
                self.outcome.differences.append(Difference(self.station, index, frame, theirs, mine))


def _recorded_transaction_id(group: Sequence[EventRecord]) -> int | None:
    """The transactionId the recorded CALLRESULT carried (allocated from the node's block then)."""
    for record in group:
        if record.type != ev.FRAME_SENT:
            continue
        try:
            message = json.loads(record.data["text"])
        except ValueError:
            return None
        if isinstance(message, list) and len(message) == 3 and isinstance(message[2], dict):
            found = message[2].get("transactionId")
            return found if isinstance(found, int) else None
    return None


def rerun_station(station: str, records: Sequence[EventRecord], policy: FleetPolicy) -> StationRerun:
    """Re-run ``station``'s recorded stream (in order) under ``policy``; raises RerunError when a
    record lacks what its type promises."""
    try:
        return _Rerunner(station, policy).run(records)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise RerunError(f"station {station}: a record cannot be re-run: {error!r}") from error
