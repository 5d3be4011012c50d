"""The station actor: one per charging station, outliving its connections.

It owns the connection's sans-I/O session engine, the outbox of commands and the station's
stream. Every frame in and out is appended with the domain events decided from it, and nothing is
sent to the station, nor reported to an operator, before those events are committed (the
durability rule). A restarted incarnation rebuilds its state from its snapshot and the stream's tail
(``actors.snapshots``; the whole stream without a usable snapshot) and drops the connection it
inherited, so the station reconnects into a known state.

A failed commit fails only the message in hand, never the actor: the actor reads its stream's tail
to learn whether the append was stored anyway (a committer lost mid-commit), retries once if not,
and otherwise answers the station's call with a CALLERROR InternalError, or tells the command's
caller (``CommandNotRecorded``), and goes on with the next message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import trio

from actors.commands import (
    Command,
    CommandNotRecorded,
    CommandSuperseded,
    CommandTimedOut,
    InvalidCommand,
    OutboxFull,
    StationOffline,
)
from actors.connector import Committed, ConnectorMessage
from actors.connector_view import concerned
from actors.events import Event, TransactionId, new_events
from actors.events.station import (
    CommandCompleted,
    FrameReceived,
    FrameSent,
    StationConnected,
    StationDisconnected,
)
from actors.events.upstream import UpstreamReplied
from actors.frame_decisions import admit_call, checked_response, decide_reply, repairs_record
from actors.handlers import Handlers, IncomingCall
from actors.ocpp import (
    BadFrame,
    Call,
    CallFailed,
    CallReceived,
    CallRefused,
    CallRepeated,
    CallTimedOut,
    ErrorCode,
    ErrorReceived,
    OcppError,
    ReplyDropped,
    ResultReceived,
    Role,
    Session,
    Validator,
    encode_frame,
)
from actors.ocpp.dialect import Dialect
from actors.ocpp.versions import V16, by_subprotocol
from actors.ocpp_stats import OcppStats
from actors.outbox import Outbox, Pending
from actors.policy import FleetPolicy, StationPolicy
from actors.reconcile import reconcile
from actors.snapshots import StreamSnapshots
from actors.station_state import StationState
from actors.station_state import state_codec as station_state_codec
from actors.transaction_ids import Allocate
from actors.upstream import Forward, UpstreamPort
from core.actor import Actor, ActorBusy, ActorRef, ActorStopped, Reply
from core.clock import Clock
from core.events import EventRecord, NewEvent
from core.mailbox import Mailbox
from core.store import CommitFailed, ConcurrencyConflict, EventStore, StoreError

logger = logging.getLogger("chargeward.station")

# How long a StartTransaction waits for a transaction id before it is answered with InternalError.
ALLOCATE_TIMEOUT = 10.0

# Appends tried per message before it is failed: the first, and one retry after reading the tail.
_APPEND_ATTEMPTS = 2


class NotRecorded(Exception):
    """A message's events could not be stored, even after a retry; the message is failed, not the actor."""


class Line(Protocol):
    """One WebSocket connection as the station actor sees it (implemented by the OCPP server)."""

    subprotocol: str
    remote: str

    async def send(self, text: str) -> None: ...

    async def close(self, reason: str, code: int = 1000) -> None: ...


@dataclass(frozen=True, slots=True)
class Attach:
    """A new connection for this station; the reply is its connection number."""

    line: Line
    reply: Reply[int]


@dataclass(frozen=True, slots=True)
class Detach:
    conn: int
    reason: str


@dataclass(frozen=True, slots=True)
class FrameIn:
    conn: int
    text: str | bytes  # bytes: a binary WebSocket message, refused (OCPP-J is text) and logged as is
    received: datetime


@dataclass(frozen=True, slots=True)
class SendCommand:
    """A command for the station; ``send_by`` (monotonic): when its caller gives up, it is not sent."""

    command: Command
    reply: Reply[dict[str, Any]]
    send_by: float | None = None


@dataclass(frozen=True, slots=True)
class StationSnapshot:
    station_id: str
    connected: bool
    connection: int | None
    boot_status: str | None
    vendor: str | None
    model: str | None
    command_in_flight: str | None
    outbox: int
    open_transactions: list[TransactionId]  # in the order they started
    ocpp_version: str  # of the current (or last) connection


@dataclass(frozen=True, slots=True)
class InspectStation:
    reply: Reply[StationSnapshot]


@dataclass(frozen=True, slots=True)
class RecordEvents:
    """Events a follow-up task of the actor (reconciliation) asks it to commit to the stream."""

    events: tuple[Event, ...]


StationMessage = Attach | Detach | FrameIn | SendCommand | InspectStation | RecordEvents

# Sends a command to a station through the fleet (``Fleet.call``) and returns the committed reply.
CommandCall = Callable[[str, Command], Awaitable[dict[str, Any]]]


@dataclass
class LineSlot:
    """The station's current connection, kept outside the actor so a restart can close it."""

    line: Line | None = None


ConnectorLookup = Callable[[str, int], ActorRef[ConnectorMessage] | None]


@dataclass
class StationDeps:
    """What every station actor of a fleet shares."""

    store: EventStore
    clock: Clock
    policy: FleetPolicy
    handlers: Handlers
    transaction_ids: ActorRef[Allocate]
    connectors: ConnectorLookup
    stats: OcppStats
    # The command path, for reconciliation after a boot; None: no reconciliation (bare deps in tests).
    call: CommandCall | None = None
    # Each station's dialect (of its current or last connection), written by its actor: the API reads
    # it to check a command without a round trip through a mailbox that may be busy.
    dialects: dict[str, Dialect] = field(default_factory=dict)
    # A local controller's upstream links (``[upstream]``): station calls are forwarded there first.
    upstream: UpstreamPort | None = None

    @staticmethod
    def validator(dialect: Dialect, policy: StationPolicy) -> Validator:
        """The validator of ``dialect`` under the station's policy (shared by the dialect's stations)."""
        return dialect.validator(policy.validation, policy.aliases)


class StationActor(Actor[StationMessage]):
    """See the module docstring."""

    def __init__(self, station_id: str, deps: StationDeps, slot: LineSlot) -> None:
        self.station_id = station_id
        self.stream = f"station/{station_id}"
        self.deps = deps
        self.slot = slot
        self.state = StationState()
        self.snapshots = StreamSnapshots(
            deps.store, f"actor/{self.stream}", self.stream, station_state_codec()
        )
        self.line: Line | None = None
        self.session: Session | None = None
        self.dialect: Dialect = V16  # the current connection's, taken from its subprotocol at attach
        self.outbox = Outbox(deps.policy.outbox_capacity, deps.policy.outbox_bytes)
        deps.stats.outboxes[station_id] = self.outbox  # a restarted incarnation replaces it
        self.in_flight: Pending | None = None
        self._nursery: trio.Nursery | None = None
        self._inbox: Mailbox[StationMessage] | None = None
        self._reconciling: trio.CancelScope | None = None
        self._first_connection = True  # of this incarnation: reconcile on it (the server restarted)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def policy(self) -> StationPolicy:
        return self.deps.policy.for_station(self.station_id, self.state.vendor)

    async def started(self) -> None:
        restored = await self.snapshots.restore()
        if restored is not None:
            self.state = restored[0]
        self.state.apply_all(await self.deps.store.read_stream(self.stream, after=self.state.version))
        self.dialect = self.deps.dialects[self.station_id] = by_subprotocol(self.state.subprotocol)
        await self._snapshot_if_due()
        inherited = self.slot.line
        self.slot.line = None
        if self.state.current_connection is not None:
            reason = "station actor restarted" if inherited is not None else "server restarted"
            await self._commit(
                [StationDisconnected(conn=self.state.current_connection, reason=reason)],
                self.deps.clock.wall(),
            )
        if inherited is not None:
            await inherited.close("station actor restarted; please reconnect")

    async def run(self, inbox: Mailbox[StationMessage]) -> None:
        self._inbox = inbox
        await self.started()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            while True:
                # The call deadline bounds only the wait for the next message, never its handling:
                # cancelling a frame half way could commit it without answering it (issue 10, 1).
                deadline = self.session.next_deadline if self.session is not None else None
                if deadline is None:  # the common case: no cancel scope to set up per message
                    await self.receive(await inbox.get())
                    continue
                message: StationMessage | None = None
                with trio.move_on_at(deadline):
                    message = await inbox.get()
                if message is None:
                    await self._expire()
                else:
                    await self.receive(message)

    async def receive(self, message: StationMessage) -> None:
        if isinstance(message, FrameIn):
            await self._on_frame(message)
        elif isinstance(message, SendCommand):
            await self._on_command(message)
        elif isinstance(message, Attach):
            await self._on_attach(message)
        elif isinstance(message, Detach):
            await self._on_detach(message)
        elif isinstance(message, RecordEvents):
            await self._on_record(message)
        else:
            message.reply.send(self._snapshot())

    # -- persistence ------------------------------------------------------------------------------

    async def _commit(self, events: list[Event], when: datetime) -> None:
        """Append ``events`` to the station's stream, then fold them and tell the running connector actors.

        Raises :class:`NotRecorded` when they could not be stored.
        """
        new = new_events(self.stream, events, when)
        for _ in range(_APPEND_ATTEMPTS):
            try:
                records = await self.deps.store.append(new, expected={self.stream: self.state.version})
            except (CommitFailed, ConcurrencyConflict) as error:
                failure: StoreError = error
            else:
                await self._fold(records)
                return
            if await self._catch_up(new):
                return
        raise NotRecorded(f"station {self.station_id}: {len(new)} events not stored: {failure}") from failure

    async def _catch_up(self, new: list[NewEvent]) -> bool:
        """After a failed append, fold what the stream holds beyond our version; True if it holds ``new``.

        Only this actor appends to its stream, so anything there is ours: a commit whose outcome was
        unknown (the committer was lost after storing it).
        """
        try:
            tail = await self.deps.store.read_stream(self.stream, after=self.state.version)
        except StoreError as error:
            raise NotRecorded(f"station {self.station_id}: cannot read the stream back: {error}") from error
        await self._fold(tail)
        last = tail[len(tail) - len(new) :] if len(tail) >= len(new) else []
        return [(r.type, r.data) for r in last] == [(e.type, e.data) for e in new]

    async def _fold(self, records: list[EventRecord]) -> None:
        for record in records:
            for event in self.state.apply(record):
                if type(event) in _RAW:
                    continue
                for number in concerned(event, self.state.connectors):
                    ref = self.deps.connectors(self.station_id, number)
                    if ref is not None:  # the append above was this task's schedule point
                        message = Committed(event, record.position, record.time, record.sequence)
                        await ref.send(message, schedule_point=False)
        await self._snapshot_if_due()

    async def _snapshot_if_due(self) -> None:
        if self.snapshots.due(self.state.version):
            if self._nursery is None:  # starting: nothing is waiting for an answer yet
                await self.snapshots.save(self.state, self.state.version)
            else:
                self.snapshots.save_soon(self._nursery, self.state, self.state.version)

    async def _send(self, text: str) -> None:
        line = self.line
        if line is None:
            return
        try:
            await line.send(text)
        except Exception as exc:  # the connection died under us: the reader will detach it
            logger.info("station %s: send failed (%r); awaiting detach", self.station_id, exc)

    # -- connections ------------------------------------------------------------------------------

    async def _on_attach(self, message: Attach) -> None:
        now = self.deps.clock.wall()
        events: list[Event] = []
        old, old_conn = self.line, self.state.current_connection
        conn = self.state.connections + 1
        if old_conn is not None:
            events.append(StationDisconnected(conn=old_conn, reason=f"replaced by connection {conn}"))
        events.append(
            StationConnected(conn=conn, subprotocol=message.line.subprotocol, remote=message.line.remote)
        )
        try:
            await self._commit(events, now)
        except NotRecorded as error:
            logger.warning("%s; connection refused", error)
            message.reply.fail(error)
            return
        self._fail_in_flight(
            StationOffline(f"station {self.station_id}: connection replaced during the call")
        )
        self.line = self.slot.line = message.line
        self.dialect = self.deps.dialects[self.station_id] = by_subprotocol(message.line.subprotocol)
        self.session = Session(
            Role.CSMS, actions=self.dialect.actions, timeout=self.policy.call_timeout, id_prefix=f"{conn}-"
        )
        message.reply.send(conn)
        if self.deps.upstream is not None:  # before the station's first call, which it forwards
            self.deps.upstream.link(self.station_id, self.dialect)
        if old is not None and self._nursery is not None:
            self._nursery.start_soon(old.close, f"replaced by a new connection ({conn})")
        if self._first_connection:
            self._first_connection = False
            self._reconcile("reconnect")
        await self._pump()

    # -- reconciliation (actors.reconcile) -----------------------------------------------------------

    def _reconcile(self, trigger: str) -> None:
        """Start re-applying the station's desired state as a follow-up task (replacing one still
        running), when the station is accepted, its policy lets us, and the server intends anything."""
        if self.state.boot_status != "Accepted" or not self.policy.reconcile or self.state.desired.empty:
            return
        if self.deps.call is None or self._nursery is None or self._inbox is None:
            return
        if self._reconciling is not None:
            self._reconciling.cancel()
        scope = self._reconciling = trio.CancelScope()
        self._nursery.start_soon(self._run_reconcile, scope, trigger)

    async def _run_reconcile(self, scope: trio.CancelScope, trigger: str) -> None:
        call, inbox = self.deps.call, self._inbox
        assert call is not None and inbox is not None

        async def ask(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            return await call(self.station_id, Command(action, payload))

        async def record(events: list[Event]) -> None:
            await inbox.put(RecordEvents(tuple(events)))

        with scope:
            try:
                await reconcile(self.state.desired, trigger, ask, record, self.dialect.requests)
            except Exception:  # a follow-up must never take the station actor down with it
                logger.exception("station %s: reconciliation failed", self.station_id)
        if self._reconciling is scope:
            self._reconciling = None

    async def _on_record(self, message: RecordEvents) -> None:
        try:
            await self._commit(list(message.events), self.deps.clock.wall())
        except NotRecorded as error:
            logger.warning("%s; reconciliation events not recorded", error)

    async def _on_detach(self, message: Detach) -> None:
        if message.conn != self.state.current_connection:
            return  # a replaced connection ending: its disconnect is already in the log
        try:
            await self._commit(
                [StationDisconnected(conn=message.conn, reason=message.reason)], self.deps.clock.wall()
            )
        except NotRecorded as error:  # the next start or connection records a disconnect
            logger.warning("%s; the disconnect is not in the log", error)
        self.line = self.slot.line = None
        self.session = None
        offline = StationOffline(f"station {self.station_id} disconnected: {message.reason}")
        self._fail_in_flight(offline)
        for pending in self.outbox.drain():
            pending.reply.fail(offline)

    # -- frames from the station ------------------------------------------------------------------

    async def _on_frame(self, frame: FrameIn) -> None:
        if frame.conn != self.state.current_connection or self.session is None:
            self.deps.stats.stale_frames += 1
            return  # from a replaced connection; the station will resend on the new one
        for event in self.session.receive(frame.text, self.deps.clock.monotonic()):
            if isinstance(event, CallReceived):
                await self._on_call(event, frame)
            elif isinstance(event, ResultReceived | ErrorReceived | CallFailed):
                await self._on_reply(event, frame)
            elif isinstance(event, BadFrame | CallRefused):
                self.deps.stats.call_errors[event.error.code.value] += 1
                self.deps.stats.frames_in[("invalid", "error")] += 1
                await self._answer_directly(frame, event.reply, event.error)
            elif isinstance(event, ReplyDropped):
                self.deps.stats.late_replies += 1
                try:
                    await self._commit(
                        [FrameReceived(conn=frame.conn, text=frame.text, late=event.late)], frame.received
                    )
                except NotRecorded as error:
                    logger.warning("%s; a late reply is not in the log", error)
            elif isinstance(event, CallRepeated):
                self.deps.stats.repeated_calls += 1

    async def _answer_directly(self, frame: FrameIn, reply: str | None, error: OcppError) -> None:
        events: list[Event] = [FrameReceived(conn=frame.conn, text=frame.text, error=error.code.value)]
        if reply is not None:
            events.append(FrameSent(conn=frame.conn, text=reply))
        try:
            await self._commit(events, frame.received)
        except NotRecorded as failure:  # an error answer acknowledges nothing: send it anyway
            logger.warning("%s; a refused frame is not in the log", failure)
        if reply is not None:
            await self._send(reply)

    async def _on_call(self, call: CallReceived, frame: FrameIn) -> None:
        assert self.session is not None
        repairs: list[dict[str, Any]] | None = None
        refused: str | None = None
        domain: list[Event] = []
        try:
            checked = admit_call(
                call.action,
                call.payload,
                state=self.state,
                validator=self.deps.validator(self.dialect, self.policy),
                max_connector_id=self.deps.policy.max_connector_id,
                text=frame.text if isinstance(frame.text, str) else None,
            )
            if checked.repairs:
                repairs = repairs_record(checked.repairs)
                vendor = self.state.vendor or self.dialect.boot_vendor(call.payload) or "unknown"
                for repair in checked.repairs:
                    self.deps.stats.repairs[(str(vendor), repair.path)] += 1
            response, upstream = await self._respond(call.action, checked.payload, frame, call)
            domain = self.dialect.domain_events(call.action, checked.payload, response, self.state)
            if upstream:
                domain = [UpstreamReplied(unique_id=call.unique_id), *domain]
            reply = self.session.answer(call.unique_id, response)
            outcome = "result"
        except OcppError as error:
            refused = error.code.value
            self.deps.stats.call_errors[error.code.value] += 1
            reply = self.session.answer_error(call.unique_id, error)
            outcome = "error"
        try:
            received = FrameReceived(
                conn=frame.conn, text=frame.text, action=call.action, repairs=repairs, error=refused
            )
            sent = FrameSent(conn=frame.conn, text=reply)
            await self._commit([received, *domain, sent], frame.received)
        except NotRecorded as failure:
            # Nothing of this call is acknowledged: the station gets an error and may send it again.
            logger.warning("%s; %s %s answered with InternalError", failure, call.action, call.unique_id)
            outcome = "error"
            self.deps.stats.call_errors[ErrorCode.INTERNAL_ERROR.value] += 1
            reply = self.session.unsent_answer(
                call.unique_id, OcppError(ErrorCode.INTERNAL_ERROR, "the CSMS could not record this message")
            )
        self.deps.stats.frames_in[(call.action, outcome)] += 1
        if call.action == "BootNotification":
            self.session.timeout = self.policy.call_timeout  # the vendor it named may have its own
        await self._send(reply)
        if call.action == "BootNotification" and outcome == "result":
            self._first_connection = False
            self._reconcile("boot")
        handled = (self.deps.clock.wall() - frame.received).total_seconds()
        self.deps.stats.observe_handling(call.action, handled)

    async def _respond(
        self, action: str, request: dict[str, Any], frame: FrameIn, call: CallReceived
    ) -> tuple[dict[str, Any], bool]:
        """The response payload: the upstream's when it answers in time (a local controller), else
        the first handler that answers, else the built-in rule; and whether it is the upstream's."""
        tx_id = None
        if self.deps.upstream is not None:
            if action in self.dialect.allocates_transaction_id:
                tx_id = await self._allocate_transaction_id()
            upstream = await self._ask_upstream(self.deps.upstream, call, tx_id)
            if upstream is not None:
                if tx_id is not None:  # the station knows its transactions by local ids (the link maps them)
                    upstream = {**upstream, "transactionId": tx_id}
                try:
                    return checked_response(self.dialect, action, upstream), True
                except OcppError as error:
                    logger.warning(
                        "station %s: the upstream's %s answer is invalid (%s); answered locally",
                        self.station_id,
                        action,
                        error.description,
                    )
        try:
            response = await self.deps.handlers.consult(
                IncomingCall(self.station_id, action, request, frame.conn, self.dialect.version)
            )
        except Exception as exc:
            logger.exception("station %s: handler for %s failed", self.station_id, action)
            raise OcppError(ErrorCode.INTERNAL_ERROR, f"handler for {action} failed: {exc!r}") from exc
        if response is None:
            if tx_id is None and action in self.dialect.allocates_transaction_id:
                tx_id = await self._allocate_transaction_id()
            response = self.dialect.builtin_response(
                action,
                request,
                station_id=self.station_id,
                state=self.state,
                policy=self.deps.policy,
                now=frame.received,
                transaction_id=tx_id,
            )
        try:
            return checked_response(self.dialect, action, response), False
        except OcppError as error:
            logger.error("station %s: invalid %s response %r: %s", self.station_id, action, response, error)
            raise OcppError(ErrorCode.INTERNAL_ERROR, f"the {action} response was invalid") from error

    async def _ask_upstream(
        self, upstream: UpstreamPort, call: CallReceived, tx_id: int | None
    ) -> dict[str, Any] | None:
        """The upstream's answer to the station's ``call`` if it comes within the reply timeout.

        The call's FrameReceived will be the next event of the stream (this actor is its only
        writer), so its sequence names it for the link's cursor.
        """
        link = upstream.link(self.station_id, self.dialect)
        seq = self.state.version + 1
        try:
            return await link.ask(
                lambda reply: Forward(seq, call.unique_id, call.action, call.payload, tx_id, reply),
                timeout=upstream.reply_timeout,
            )
        except (trio.TooSlowError, ActorStopped, ActorBusy):
            return None

    async def _allocate_transaction_id(self) -> int:
        """A fresh transaction id; a slow or failed allocation fails only this StartTransaction."""
        try:
            return await self.deps.transaction_ids.ask(Allocate, timeout=ALLOCATE_TIMEOUT)
        except (trio.TooSlowError, ActorStopped, ActorBusy, StoreError, OverflowError) as exc:
            logger.warning("station %s: no transaction id: %r", self.station_id, exc)
            raise OcppError(ErrorCode.INTERNAL_ERROR, "no transaction id could be allocated") from exc

    # -- commands to the station ----------------------------------------------------------------------

    async def _on_command(self, message: SendCommand) -> None:
        command = message.command
        if self.line is None:
            message.reply.fail(StationOffline(f"station {self.station_id} is not connected"))
            return
        if command.carries_secret and command.logged is None:
            message.reply.fail(
                InvalidCommand(
                    f"{command.action}: the station's password would be logged as sent; rotate it "
                    "with POST /api/stations/<id>/password (adapters.password_rotation)"
                )
            )
            return
        try:
            if command.action in self.dialect.actions.station_initiated - self.dialect.actions.csms_initiated:
                raise OcppError(
                    ErrorCode.NOT_SUPPORTED, f"{command.action} is a station's action, not a command"
                )
            self.dialect.strict.validate_request(command.action, dict(command.payload))
            superseded = self.outbox.push(Pending(command, message.reply, message.send_by))
        except OcppError as error:
            message.reply.fail(InvalidCommand(f"{command.action}: {error.description}"))
            return
        except OutboxFull as error:
            message.reply.fail(error)
            return
        if superseded is not None:
            superseded.reply.fail(CommandSuperseded(f"{command.action} superseded by a newer one"))
        await self._pump()

    async def _pump(self) -> None:
        """Send the next queued command if the one-in-flight slot is free."""
        if self.session is None or self.session.in_flight is not None or self.in_flight is not None:
            return
        pending = self.outbox.pop()
        now = self.deps.clock.monotonic()
        while pending is not None and pending.expired(now):
            # Its caller has given up (and was told it timed out): sending it now would carry out a
            # command the operator believes failed (issue 10, defect 6).
            self.deps.stats.command_outcomes[(pending.command.action, "expired")] += 1
            pending.reply.fail(
                CommandTimedOut(f"{pending.command.action}: not sent, still queued when its caller gave up")
            )
            pending = self.outbox.pop()
        if pending is None:
            return
        conn = self.state.current_connection
        call = self.session.call(
            pending.command.action, dict(pending.command.payload), self.deps.clock.monotonic()
        )
        self.in_flight = pending
        logged = call.text
        if pending.command.logged is not None:  # a secret on the wire: the log keeps its stand-in
            logged = encode_frame(Call(call.unique_id, pending.command.action, dict(pending.command.logged)))
        try:
            await self._commit(
                [FrameSent(conn=conn, text=logged, action=pending.command.action)], self.deps.clock.wall()
            )
        except NotRecorded as error:
            self.session.withdraw(call.unique_id)
            self.in_flight = None
            pending.reply.fail(CommandNotRecorded(f"{pending.command.action} was not sent: {error}"))
            await self._pump()
            return
        self.deps.stats.frames_out[pending.command.action] += 1
        await self._send(call.text)

    async def _on_reply(self, event: ResultReceived | ErrorReceived | CallFailed, frame: FrameIn) -> None:
        pending, self.in_flight = self.in_flight, None
        command = pending.command if pending is not None else Command(event.action, {})
        request = command.payload if command.logged is None else command.logged
        decision = decide_reply(event, request, self.deps.validator(self.dialect, self.policy), self.dialect)
        completed = replace(decision.completed, round_trip=round(event.received_at - event.sent_at, 6))
        domain, result = decision.domain, decision.result
        failure: Exception | None = decision.rejection
        self.deps.stats.command_outcomes[(event.action, completed.outcome)] += 1
        self.deps.stats.observe_round_trip(event.action, event.received_at - event.sent_at)
        try:
            await self._commit(
                [FrameReceived(conn=frame.conn, text=frame.text, action=event.action), completed, *domain],
                frame.received,
            )
        except NotRecorded as error:
            failure = CommandNotRecorded(
                f"{event.action}: the station answered ({completed.outcome}) but its answer "
                f"could not be recorded: {error}"
            )
        if pending is not None:
            if failure is not None:
                pending.reply.fail(failure)
            else:
                assert result is not None
                pending.reply.send(result)
        await self._pump()

    async def _expire(self) -> None:
        if self.session is None:
            return
        for timeout in self.session.expire(self.deps.clock.monotonic()):
            await self._timed_out(timeout)
        await self._pump()

    async def _timed_out(self, event: CallTimedOut) -> None:
        pending, self.in_flight = self.in_flight, None
        self.deps.stats.command_outcomes[(event.action, "timeout")] += 1
        try:
            await self._commit(
                [CommandCompleted(action=event.action, unique_id=event.unique_id, outcome="timeout")],
                self.deps.clock.wall(),
            )
        except NotRecorded as error:
            logger.warning("%s; a timeout is not in the log", error)
        if pending is not None:
            timeout = self.session.timeout if self.session is not None else 0
            pending.reply.fail(
                CommandTimedOut(f"{event.action}: no reply from {self.station_id} within {timeout} s")
            )

    def _fail_in_flight(self, error: Exception) -> None:
        pending, self.in_flight = self.in_flight, None
        if pending is not None:
            pending.reply.fail(error)

    def _snapshot(self) -> StationSnapshot:
        return StationSnapshot(
            station_id=self.station_id,
            connected=self.line is not None,
            connection=self.state.current_connection,
            boot_status=self.state.boot_status,
            vendor=self.state.vendor,
            model=self.state.model,
            command_in_flight=self.in_flight.command.action if self.in_flight else None,
            outbox=len(self.outbox),
            open_transactions=list(self.state.transactions),
            ocpp_version=self.dialect.version,
        )


_RAW: frozenset[type[Event]] = frozenset({FrameReceived, FrameSent})
