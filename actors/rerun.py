"""Re-running this build's decisions over a station's recorded log (``chargeward replay --rerun``).

Every recorded inbound frame (``FrameReceived``, with its recorded time and connection) goes through
a fresh sans-I/O :class:`~actors.ocpp.Session` per recorded connection and the same pure steps the
station actor takes (:mod:`actors.frame_decisions` and the decisions of the connection's dialect,
:mod:`actors.ocpp.dialect`) under the given fleet policy. What this build would record for the
frame (the FrameReceived itself, its domain events and the FrameSent answering it) is compared with
what the log holds for it, event by event.

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
  expiry at that point: when a call timed out is the clock's doing, not a decision;
- a local controller's upstream answer (a call recorded with ``UpstreamReplied``): the recorded reply
  is what the upstream said, so it is the re-run's answer too (checked, and its events re-decided).

Replies to our commands are re-decided (their CommandCompleted and domain events). Registered
handlers (an embedding application's code) are not part of the re-run: answers come from the
built-in rules, as under ``chargeward serve``. Connection events and supervision records are folded,
not re-decided. Both sides are compared as typed events: the recorded ones as :func:`~actors.events.events_of`
reads them (upcast to this build's versions, so a field added since does not count as a difference),
the re-run's after a trip through the store's codec, so they compare as they would be stored.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from actors.events import Event, decode, encode, events_of
from actors.events.station import (
    CommandCompleted,
    FrameReceived,
    FrameSent,
    StationConnected,
    StationDisconnected,
    StationFailed,
)
from actors.events.upstream import UpstreamReplied
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
from actors.ocpp.dialect import Dialect
from actors.ocpp.versions import V16, by_subprotocol
from actors.policy import FleetPolicy
from actors.station_state import StationState
from core.codec import pack, unpack
from core.events import EventRecord

Decided = list[Event]


@dataclass(frozen=True, slots=True)
class _Recorded:
    """One recorded event and the record that holds it."""

    record: EventRecord
    event: Event


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


def _closes_before(group: Sequence[_Recorded], event: Event) -> bool:
    """Whether ``event``, recorded after ``group`` (a frame's events so far), belongs to a later commit."""
    if isinstance(event, FrameReceived | StationConnected | StationDisconnected | StationFailed):
        return True
    if isinstance(event, FrameSent) and event.action is not None:
        return True  # one of our commands going out
    return isinstance(event, CommandCompleted) and len(group) > 1  # a later timeout, not this reply's


def _as_stored(event: Event) -> Event:
    """``event`` as it reads back from the store."""
    type_name, data = encode(event)
    return decode(type_name, unpack(pack(data)))


def _shown(event: Event) -> dict[str, Any]:
    type_name, data = encode(event)
    shown: dict[str, Any] = unpack(pack({"type": type_name, "data": data}))
    return shown


class _Rerunner:
    def __init__(self, station: str, policy: FleetPolicy) -> None:
        self.station = station
        self.fleet = policy
        self.state = StationState()
        self.session: Session | None = None
        self.dialect: Dialect = V16  # the recorded connection's (StationConnected.subprotocol)
        self.commands: dict[str, dict[str, Any]] = {}  # our calls' unique id -> request payload
        self.outcome = StationRerun(station)
        self.group: list[_Recorded] = []  # an inbound frame and the events recorded with it so far

    def validator(self) -> Validator:
        policy = self.fleet.for_station(self.station, self.state.vendor)
        return self.dialect.validator(policy.validation, policy.aliases)

    def feed(self, record: EventRecord) -> None:
        """Take the station's next recorded record: a frame is decided once its commit's events are in."""
        for event in events_of(record):
            item = _Recorded(record, event)
            if self.group and _closes_before(self.group, event):
                self._decide_group()
            if self.group:
                self.group.append(item)
                if isinstance(event, FrameSent):
                    self._decide_group()  # the answer closes the frame's commit
            elif isinstance(event, FrameReceived):
                self.group.append(item)
            else:
                self._other(item)
                self._fold([item])

    def finish(self) -> StationRerun:
        """The outcome, once every record is fed."""
        if self.group:
            self._decide_group()
        return self.outcome

    def _decide_group(self) -> None:
        group, self.group = self.group, []
        first = group[0].event
        assert isinstance(first, FrameReceived)
        self._frame(first, group)
        self._fold(group)

    def _fold(self, items: Sequence[_Recorded]) -> None:
        for item in items:
            self.state.fold(item.event)
            self.state.version = item.record.sequence

    def _other(self, item: _Recorded) -> None:
        event = item.event
        if isinstance(event, StationConnected):
            timeout = self.fleet.for_station(self.station, self.state.vendor).call_timeout
            self.dialect = by_subprotocol(event.subprotocol)
            self.session = Session(
                Role.CSMS, actions=self.dialect.actions, timeout=timeout, id_prefix=f"{event.conn}-"
            )
            self.commands.clear()
        elif isinstance(event, StationDisconnected):
            self.session = None
        elif isinstance(event, FrameSent) and event.action is not None and self.session is not None:
            message = json.loads(event.text)
            self.commands[message[1]] = message[3]
            self.session.resume_call(message[1], event.action, item.record.time.timestamp())
        elif isinstance(event, CommandCompleted) and self.session is not None:
            self.session.expire(math.inf)  # a timeout: no reply came

    def _frame(self, frame: FrameReceived, group: Sequence[_Recorded]) -> None:
        self.outcome.frames += 1
        if self.session is None:  # a log without its connection record: decide in a fresh session
            self.session = Session(Role.CSMS, actions=self.dialect.actions, id_prefix=f"{frame.conn}-")
        decided: Decided = []
        for event in self.session.receive(frame.text, group[0].record.time.timestamp()):
            decided.extend(self._decide(event, frame, group))
        self._compare(group, decided)

    def _decide(self, event: object, frame: FrameReceived, group: Sequence[_Recorded]) -> Decided:
        assert self.session is not None
        conn, text = frame.conn, frame.text
        if isinstance(event, CallReceived):
            return self._call(event, frame, group)
        if isinstance(event, ResultReceived | ErrorReceived | CallFailed):
            request = self.commands.pop(event.unique_id, {})
            decision = decide_reply(event, request, self.validator(), self.dialect)
            recorded = next((r.event for r in group if isinstance(r.event, CommandCompleted)), None)
            round_trip = recorded.round_trip if recorded is not None else None
            return [
                FrameReceived(conn=conn, text=text, action=event.action),
                replace(decision.completed, round_trip=round_trip),
                *decision.domain,
            ]
        if isinstance(event, BadFrame | CallRefused):
            refused: Decided = [FrameReceived(conn=conn, text=text, error=event.error.code.value)]
            if event.reply is not None:
                refused.append(FrameSent(conn=conn, text=event.reply))
            return refused
        if isinstance(event, ReplyDropped):
            return [FrameReceived(conn=conn, text=text, late=event.late)]
        return []  # CallRepeated: the pending answer serves it; nothing is recorded

    def _call(self, call: CallReceived, frame: FrameReceived, group: Sequence[_Recorded]) -> Decided:
        assert self.session is not None
        repairs: list[dict[str, Any]] | None = None
        refused: str | None = None
        domain: Decided = []
        try:
            checked = admit_call(
                call.action,
                call.payload,
                state=self.state,
                validator=self.validator(),
                max_connector_id=self.fleet.max_connector_id,
                text=frame.text if isinstance(frame.text, str) else None,
            )
            if checked.repairs:
                repairs = repairs_record(checked.repairs)
            response = self._respond(call.action, checked.payload, group)
            domain = self.dialect.domain_events(call.action, checked.payload, response, self.state)
            if _upstream_replied(group):  # a local controller's upstream answered: that is input here
                domain = [UpstreamReplied(unique_id=call.unique_id), *domain]
            reply = self.session.answer(call.unique_id, response)
        except OcppError as error:
            refused = error.code.value
            reply = self.session.answer_error(call.unique_id, error)
        received = FrameReceived(
            conn=frame.conn, text=frame.text, action=call.action, repairs=repairs, error=refused
        )
        return [received, *domain, FrameSent(conn=frame.conn, text=reply)]

    def _respond(self, action: str, request: dict[str, Any], group: Sequence[_Recorded]) -> dict[str, Any]:
        if _upstream_replied(group):  # the upstream's answer, as recorded (with the local transaction id)
            recorded = _recorded_result(group)
            if recorded is not None:
                return checked_response(self.dialect, action, recorded)
        transaction_id = None
        if action in self.dialect.allocates_transaction_id:
            transaction_id = _recorded_transaction_id(group)
            if transaction_id is None:
                raise OcppError(ErrorCode.INTERNAL_ERROR, "no transaction id could be allocated")
        response = self.dialect.builtin_response(
            action,
            request,
            station_id=self.station,
            state=self.state,
            policy=self.fleet,
            now=group[0].record.time,
            transaction_id=transaction_id,
        )
        try:
            return checked_response(self.dialect, action, response)
        except OcppError as error:
            raise OcppError(ErrorCode.INTERNAL_ERROR, f"the {action} response was invalid") from error

    def _compare(self, group: Sequence[_Recorded], decided: Decided) -> None:
        rerun = [_as_stored(event) for event in decided]
        first = group[0].event
        frame = str(first.text) if isinstance(first, FrameReceived) else ""
        for n in range(max(len(group), len(rerun))):
            mine = rerun[n] if n < len(rerun) else None
            theirs = group[n].event if n < len(group) else None
            if mine != theirs:
                index = group[n].record.sequence if n < len(group) else group[-1].record.sequence + 1
                shown_theirs = _shown(theirs) if theirs is not None else None
                shown_mine = _shown(mine) if mine is not None else None
                self.outcome.differences.append(
                    Difference(self.station, index, frame, shown_theirs, shown_mine)
                )


def _upstream_replied(group: Sequence[_Recorded]) -> bool:
    return any(isinstance(item.event, UpstreamReplied) for item in group)


def _recorded_result(group: Sequence[_Recorded]) -> dict[str, Any] | None:
    """The payload of the recorded CALLRESULT answering the frame."""
    for item in group:
        if isinstance(item.event, FrameSent) and item.event.action is None:
            try:
                message = json.loads(item.event.text)
            except ValueError:
                return None
            if isinstance(message, list) and len(message) == 3 and isinstance(message[2], dict):
                return message[2]
    return None


def _recorded_transaction_id(group: Sequence[_Recorded]) -> int | None:
    """The transactionId the recorded CALLRESULT carried (allocated from the node's block then)."""
    for item in group:
        if not isinstance(item.event, FrameSent):
            continue
        try:
            message = json.loads(item.event.text)
        except ValueError:
            return None
        if isinstance(message, list) and len(message) == 3 and isinstance(message[2], dict):
            found = message[2].get("transactionId")
            return found if isinstance(found, int) else None
    return None


class StationRerunner:
    """Re-runs one station's recorded stream record by record, holding only the frame in hand (and the
    differences found), so a long log is re-run as it is read."""

    def __init__(self, station: str, policy: FleetPolicy) -> None:
        self.station = station
        self._rerunner = _Rerunner(station, policy)

    def feed(self, record: EventRecord) -> None:
        """The station's next record, in stream order; RerunError when it lacks what its type promises."""
        with self._errors():
            self._rerunner.feed(record)

    def finish(self) -> StationRerun:
        """Decide the frame still in hand and return the outcome."""
        with self._errors():
            return self._rerunner.finish()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (KeyError, IndexError, TypeError, ValueError) as error:  # EventDataError is a ValueError
            raise RerunError(f"station {self.station}: a record cannot be re-run: {error!r}") from error


def rerun_station(station: str, records: Iterable[EventRecord], policy: FleetPolicy) -> StationRerun:
    """Re-run ``station``'s recorded stream (in order) under ``policy``; raises RerunError when a
    record lacks what its type promises."""
    rerunner = StationRerunner(station, policy)
    for record in records:
        rerunner.feed(record)
    return rerunner.finish()
