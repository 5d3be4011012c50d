"""The sans-I/O OCPP-J session engine: one per WebSocket connection, either end.

Fed received text frames and the current monotonic time, it returns events; asked to call,
answer or expire, it returns the text to send. It never reads a clock, never does I/O and never
raises out of :meth:`Session.receive`: whatever the peer sends becomes an event (the h11 idea), so
the same engine runs under the trio server, in the bench's simulated stations, in tests with
two engines wired back to back, and in replay over a recorded frame log.

Rules it keeps:

- Our CALLs get unique ids ``<prefix><n>``, deterministic per session so a replay reproduces them.
- One CALL of ours in flight at a time (OCPP-J section 4.1.1). Starting a second raises
  :class:`SessionError`: queueing belongs to the station actor's outbox, which can coalesce.
- A CALLRESULT or CALLERROR is matched to our in-flight CALL by unique id. A reply with any other id
  (never sent, or already timed out) is dropped from matching, counted in ``late_replies`` and
  surfaced as :class:`ReplyDropped` so it can be logged as a dead letter.
- Our CALL times out ``timeout`` seconds after it was sent: :meth:`Session.expire` reports it and
  frees the slot; :attr:`Session.next_deadline` says when to call it. Only ``expire`` times a call
  out: a reply that arrives before the driver called it still matches, so the driver must call
  ``expire`` at ``next_deadline`` (a replay reproduces the outcome from the logged timeout events).
- The peer's CALLs surface as :class:`CallReceived`; the application answers with
  :meth:`Session.answer` or :meth:`Session.answer_error`. Answering an id that is not outstanding
  raises :class:`SessionError`.
- A malformed frame becomes :class:`BadFrame` with the CALLERROR text to send back; when no unique id
  can be read (not JSON, not an array, no string id or an empty one, a binary message) the CALLERROR
  carries the id ``"-1"``, as OCPP 2.0.1 section 4.2.3 prescribes, so the peer learns something is
  wrong rather than waiting for a timeout. A malformed reply is never answered (``reply`` is
  ``None``). A malformed reply whose id is our in-flight CALL fails that call (:class:`CallFailed`)
  at once rather than leaving it to time out.
- A CALL for an action the session's version (its :class:`~actors.ocpp.actions.ActionTable`) does not
  have is refused with NotImplemented and one the peer's role may not start with NotSupported
  (:class:`CallRefused`, reply included); CALLERRORs use the version's spelling of the codes.

The peer starting a CALL while an earlier CALL of its own is unanswered breaks the one-in-flight
rule, but real chargers do it (typically after their own timeout gave up on the first). Decision:
accept it. Both calls surface and may be answered in any order; ``overlapping_calls`` counts it.
Dropping or refusing the newer call would lose a StatusNotification or MeterValues the station has
already moved past. Two limits keep this bounded and unambiguous:

- a CALL repeating a unique id that is still outstanding is a retransmission: it is not surfaced
  again (the pending answer, carrying that id, serves both) and is reported as :class:`CallRepeated`;
- at most ``max_peer_calls`` unanswered peer CALLs are kept; beyond that a CALL is refused with
  GenericError (:class:`CallRefused`), so a flooding peer gets an answer and cannot grow memory.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from actors.ocpp.actions import ActionTable
from actors.ocpp.errors import ErrorCode, OcppError
from actors.ocpp.frames import (
    CALL_ERROR,
    CALL_RESULT,
    Call,
    CallError,
    CallResult,
    encode_frame,
    parse_frame,
)
from actors.ocpp.v16.actions import TABLE as V16_ACTIONS

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_PEER_CALLS = 8
UNREADABLE_ID = "-1"  # the unique id of a CALLERROR answering a frame whose own id cannot be read
_REMEMBERED_EXPIRED = 64


class Role(enum.StrEnum):
    """Which end of the connection this engine plays."""

    CSMS = "csms"
    STATION = "station"


class SessionError(RuntimeError):
    """The application misused the engine (a second CALL in flight, an answer to no CALL, ...)."""


@dataclass(frozen=True, slots=True)
class CallReceived:
    """The peer sent a CALL; answer it with ``answer`` or ``answer_error``."""

    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResultReceived:
    """Our in-flight CALL got its CALLRESULT."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    sent_at: float
    received_at: float


@dataclass(frozen=True, slots=True)
class ErrorReceived:
    """Our in-flight CALL got a CALLERROR from the peer."""

    unique_id: str
    action: str
    code: str
    description: str
    details: dict[str, Any]
    sent_at: float
    received_at: float


@dataclass(frozen=True, slots=True)
class CallFailed:
    """The peer's reply to our in-flight CALL was malformed; the call is over."""

    unique_id: str
    action: str
    error: OcppError
    sent_at: float
    received_at: float


@dataclass(frozen=True, slots=True)
class CallTimedOut:
    """Our CALL got no reply within the timeout; the slot is free again."""

    unique_id: str
    action: str
    sent_at: float
    expired_at: float


@dataclass(frozen=True, slots=True)
class ReplyDropped:
    """A reply matched no in-flight CALL. ``late`` says it answered one that had timed out."""

    frame: CallResult | CallError
    late: bool


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame that could not be parsed; ``reply`` is the CALLERROR text to send, if any."""

    text: str
    error: OcppError
    reply: str | None


@dataclass(frozen=True, slots=True)
class CallRefused:
    """A well-formed peer CALL the engine answered itself with a CALLERROR (``reply``)."""

    unique_id: str
    action: str
    error: OcppError
    reply: str


@dataclass(frozen=True, slots=True)
class CallRepeated:
    """The peer repeated a CALL whose unique id is still outstanding; the pending answer serves it."""

    unique_id: str
    action: str


Event = (
    CallReceived
    | ResultReceived
    | ErrorReceived
    | CallFailed
    | CallTimedOut
    | ReplyDropped
    | BadFrame
    | CallRefused
    | CallRepeated
)


@dataclass(frozen=True, slots=True)
class OutgoingCall:
    """A CALL of ours: its unique id and the text to send."""

    unique_id: str
    text: str


@dataclass(slots=True)
class SessionCounters:
    """Monotonic counters of what went wrong on this connection, for metrics."""

    late_replies: int = 0
    bad_frames: int = 0
    timeouts: int = 0
    failed_replies: int = 0
    refused_calls: int = 0
    overlapping_calls: int = 0
    repeated_calls: int = 0


@dataclass(frozen=True, slots=True)
class _InFlight:
    unique_id: str
    action: str
    sent_at: float
    deadline: float


class Session:
    """The OCPP-J state of one connection, for ``role`` speaking the version of ``actions``."""

    def __init__(
        self,
        role: Role,
        *,
        actions: ActionTable = V16_ACTIONS,
        timeout: float = DEFAULT_TIMEOUT,
        max_peer_calls: int = DEFAULT_MAX_PEER_CALLS,
        id_prefix: str = "",
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if max_peer_calls < 1:
            raise ValueError(f"max_peer_calls must be at least 1, got {max_peer_calls}")
        self.role = role
        self.actions = actions
        self.version = actions.version
        self.timeout = timeout
        self.max_peer_calls = max_peer_calls
        self.counters = SessionCounters()
        self._id_prefix = id_prefix
        self._next_id = 1
        self._in_flight: _InFlight | None = None
        self._peer_calls: dict[str, str] = {}
        # The last CALLs that timed out, so a late answer is known as late; a list trimmed by hand, since
        # a deque(maxlen=...) holds a 64-slot block (~760 bytes) from the start, in every session.
        self._expired: list[str] = []
        ours, theirs = (
            (actions.csms_initiated, actions.station_initiated)
            if role is Role.CSMS
            else (actions.station_initiated, actions.csms_initiated)
        )
        self._we_may_start = ours
        self._peer_may_start = theirs

    # ---- what the application asks -------------------------------------------------------------

    @property
    def in_flight(self) -> str | None:
        """The unique id of our CALL awaiting a reply, or ``None``."""
        return self._in_flight.unique_id if self._in_flight else None

    @property
    def next_deadline(self) -> float | None:
        """When :meth:`expire` has something to report, or ``None`` when nothing is in flight."""
        return self._in_flight.deadline if self._in_flight else None

    @property
    def outstanding_peer_calls(self) -> dict[str, str]:
        """The peer's CALLs not yet answered, unique id -> action (a copy)."""
        return dict(self._peer_calls)

    def call(self, action: str, payload: dict[str, Any], now: float) -> OutgoingCall:
        """Start a CALL of ours; raise :class:`SessionError` if one is already in flight."""
        if self._in_flight is not None:
            raise SessionError(
                f"cannot send {action}: {self._in_flight.action} ({self._in_flight.unique_id}) "
                "is still in flight; queue it until the reply or the timeout"
            )
        if action not in self._we_may_start:
            raise SessionError(f"a {self.role.value} may not start {action!r} in OCPP {self.version}")
        unique_id = f"{self._id_prefix}{self._next_id}"
        self._next_id += 1
        text = encode_frame(Call(unique_id, action, payload))
        self._in_flight = _InFlight(unique_id, action, now, now + self.timeout)
        return OutgoingCall(unique_id, text)

    def resume_call(self, unique_id: str, action: str, now: float) -> None:
        """Put our CALL ``unique_id`` in flight as a recorded log holds it, without making its text.

        A re-run over recorded traffic feeds the CALLs the log holds, with their recorded ids (our
        own message ids are the recording's, not recomputed), so the station's replies match them.
        """
        self._in_flight = _InFlight(unique_id, action, now, now + self.timeout)

    def withdraw(self, unique_id: str) -> None:
        """Forget our in-flight CALL ``unique_id``: it was never sent (its record could not be stored)."""
        if self._in_flight is not None and self._in_flight.unique_id == unique_id:
            self._in_flight = None

    def answer(self, unique_id: str, payload: dict[str, Any]) -> str:
        """The CALLRESULT text answering the peer's CALL ``unique_id``."""
        self._take_peer_call(unique_id)
        return encode_frame(CallResult(unique_id, payload))

    def answer_error(self, unique_id: str, error: OcppError) -> str:
        """The CALLERROR text answering the peer's CALL ``unique_id`` with ``error``."""
        self._take_peer_call(unique_id)
        return self._error_text(unique_id, error)

    def unsent_answer(self, unique_id: str, error: OcppError) -> str:
        """A CALLERROR for the peer's CALL ``unique_id``, already answered by :meth:`answer` but not sent.

        Used when the answer's record could not be stored: the station gets this instead.
        """
        return self._error_text(unique_id, error)

    def expire(self, now: float) -> list[CallTimedOut]:
        """Time out our in-flight CALL if its deadline has passed."""
        pending = self._in_flight
        if pending is None or now < pending.deadline:
            return []
        self._in_flight = None
        self._expired.append(pending.unique_id)
        if len(self._expired) > _REMEMBERED_EXPIRED:
            del self._expired[0]
        self.counters.timeouts += 1
        return [CallTimedOut(pending.unique_id, pending.action, pending.sent_at, now)]

    # ---- what the peer sends -------------------------------------------------------------------

    def receive(self, text: str | bytes, now: float) -> list[Event]:
        """Take one received frame; never raises for anything the peer can send.

        Each frame yields exactly one event today; the list leaves room for frames that will yield
        none or several (boot state) without changing the callers.
        """
        if isinstance(text, bytes):  # OCPP-J is text frames only (OCPP-J 1.6 section 3.1)
            error = OcppError(
                ErrorCode.FORMATION_VIOLATION, "binary WebSocket message: OCPP-J uses text frames"
            )
            return [self._bad_frame(text, error, now)]
        try:
            frame = parse_frame(text)
        except OcppError as error:
            return [self._bad_frame(text, error, now)]
        if isinstance(frame, Call):
            return [self._peer_call(frame)]
        return [self._reply(frame, now)]

    # ---- internals -----------------------------------------------------------------------------

    def _peer_call(self, frame: Call) -> Event:
        if frame.unique_id in self._peer_calls:
            self.counters.repeated_calls += 1
            return CallRepeated(frame.unique_id, frame.action)
        refusal = self._refusal(frame.action)
        if refusal is not None:
            self.counters.refused_calls += 1
            return CallRefused(
                frame.unique_id, frame.action, refusal, self._error_text(frame.unique_id, refusal)
            )
        if self._peer_calls:
            self.counters.overlapping_calls += 1
        self._peer_calls[frame.unique_id] = frame.action
        return CallReceived(frame.unique_id, frame.action, frame.payload)

    def _refusal(self, action: str) -> OcppError | None:
        if action not in self._peer_may_start:
            if action in self._we_may_start:
                return OcppError(
                    ErrorCode.NOT_SUPPORTED, f"a {self.role.value} does not accept {action!r} calls"
                )
            return OcppError(ErrorCode.NOT_IMPLEMENTED, f"{action!r} is not an OCPP {self.version} action")
        if len(self._peer_calls) >= self.max_peer_calls:
            return OcppError(
                ErrorCode.GENERIC_ERROR,
                f"{len(self._peer_calls)} earlier calls are still unanswered; retry later",
            )
        return None

    def _reply(self, frame: CallResult | CallError, now: float) -> Event:
        pending = self._in_flight
        if pending is None or frame.unique_id != pending.unique_id:
            self.counters.late_replies += 1
            return ReplyDropped(frame, late=frame.unique_id in self._expired)
        self._in_flight = None
        if isinstance(frame, CallResult):
            return ResultReceived(pending.unique_id, pending.action, frame.payload, pending.sent_at, now)
        return ErrorReceived(
            pending.unique_id,
            pending.action,
            frame.code,
            frame.description,
            frame.details,
            pending.sent_at,
            now,
        )

    def _bad_frame(self, text: str | bytes, error: OcppError, now: float) -> Event:
        self.counters.bad_frames += 1
        shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
        is_reply = error.message_type_id in (CALL_RESULT, CALL_ERROR)
        pending = self._in_flight
        if is_reply and pending is not None and error.unique_id == pending.unique_id:
            self._in_flight = None
            self.counters.failed_replies += 1
            return CallFailed(pending.unique_id, pending.action, error, pending.sent_at, now)
        reply = None if is_reply else self._error_text(error.unique_id or UNREADABLE_ID, error)
        return BadFrame(shown, error, reply)

    def _take_peer_call(self, unique_id: str) -> None:
        if self._peer_calls.pop(unique_id, None) is None:
            raise SessionError(f"no call {unique_id!r} from the peer is awaiting an answer")

    def _error_text(self, unique_id: str, error: OcppError) -> str:
        return encode_frame(
            CallError(unique_id, self.actions.spell(error.code), error.description, error.details)
        )
