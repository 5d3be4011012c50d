"""A station's link to the upstream CSMS, when chargeward is a local controller (``[upstream]``).

One link per station that has connected locally, started with the station's first connection and
kept for the life of the process: it opens one WebSocket to the upstream as that station (the
station's id, its OCPP subprotocol, its upstream credentials: all in the :class:`Dialer` the
composition root gives it) and keeps it open, reconnecting with exponential backoff and jitter.
Over it the link plays the station's part, with its own sans-I/O :class:`~actors.ocpp.Session`
(role station: one call of ours in flight, replies matched, the upstream's calls surfaced).

**Live.** While the link is up and owes the upstream nothing, each call the station sends is
forwarded as the station actor decides it (:class:`Forward`, asked with the reply timeout): the
upstream's answer goes back to the station actor, which sends it to the station (with a local
transaction id for a StartTransaction, see ``actors.station``); when no answer comes in time the
station actor answers by the local policy. Either way the upstream's answer is recorded, so the call
is never sent again: in time, by the station actor, as :class:`~actors.events.upstream.UpstreamReplied`
in the call's own append (the answer itself is its FrameSent); late, or a CALLERROR, or a
StartTransaction whose id is mapped, by the link (:class:`~actors.events.upstream.UpstreamAnswered`).

**Catch-up.** A Forward that cannot go out at once (link down, a call still in flight, a backlog
not yet sent) is held while the link is connecting or catching up, for most of the reply timeout,
and sent as the next call if the link goes live by then (so a station's first calls after it
connects still reach the upstream); otherwise it is refused: the station is answered locally and
its call waits in the log. After each
reconnect, and whenever a call was refused, the link reads the station's stream after its cursor,
and sends what the upstream has not answered (``actors.upstream.backlog``) one call at a time, in
order, before any new call goes live; each answer moves the cursor (recorded, so a restart or a
kill -9 resumes there). A StartTransaction answered locally is mapped to the upstream's id
(:class:`~actors.events.upstream.TransactionIdMapped`), and later messages about the transaction
are sent with that id. The link goes live again once a read of the log finds nothing more to send.

**Commands.** A call from the upstream is relayed to the station through the command path (the
station actor's outbox, as the API's commands are), with the upstream's transaction id turned back
into the local one; the station's reply (or the failure) is sent back and recorded. For a station on
a site, a SetChargingProfile of the Tx purposes is held for the site actor instead, so the site's cap
always holds (``actors.upstream.profiles``).

Every event goes to ``upstream/<id>``, which only this link writes (one task appends, in order).
A snapshot of its fold (``actors.snapshots``, every few hundred records) lets a restarted link fold
only the stream's tail.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import trio

from actors.commands import Command, CommandError, CommandRejected
from actors.events import Event, TransactionId, events_of, new_events
from actors.events.upstream import (
    TransactionIdMapped,
    UpstreamAnswered,
    UpstreamCommandRelayed,
    UpstreamConnected,
    UpstreamCursor,
    UpstreamDisconnected,
)
from actors.ocpp import (
    BadFrame,
    CallFailed,
    CallReceived,
    CallRefused,
    ErrorCode,
    ErrorReceived,
    OcppError,
    ResultReceived,
    Role,
    Session,
)
from actors.ocpp.dialect import Dialect
from actors.snapshots import StreamSnapshots
from actors.upstream.backlog import (
    LinkLog,
    Outgoing,
    Pending,
    backlog,
    log_codec,
    to_station,
    to_upstream,
)
from actors.upstream.profiles import ProfileError, cleared_profiles, held_profile
from core.actor import Actor, Reply
from core.clock import Clock
from core.mailbox import Mailbox
from core.store import EventStore, StoreError

logger = logging.getLogger("chargeward.upstream")

_JITTER = random.Random()
# How long a catch-up waits for a refused call's exchange to reach the log before going live anyway
# (its commit failed, and the station was answered with an error: there is nothing to send).
_SETTLE = 5.0
# Calls answered live between two reads of the log that move the cursor past them.
COMPACT_EVERY = 1000


class LinkClosed(Exception):
    """The upstream WebSocket closed (or could not be opened); ``args[0]`` says why."""


class Socket(Protocol):
    """One open WebSocket to the upstream, as the link sees it."""

    url: str

    async def send(self, text: str) -> None:
        """Send one text frame; raises :class:`LinkClosed` when the connection is gone."""
        ...

    async def receive(self) -> str:
        """The next text frame; raises :class:`LinkClosed` when the connection is gone."""
        ...


class Dialer(Protocol):
    """Opens the upstream WebSocket for a station (``adapters.upstream_link``)."""

    def open(self, station_id: str, subprotocol: str) -> AbstractAsyncContextManager[Socket]:
        """A context manager holding the connection open; entering it raises :class:`LinkClosed`
        when the upstream cannot be reached or refuses."""
        ...


@dataclass(frozen=True, slots=True)
class LinkSettings:
    reply_timeout: float = 5.0  # the station waits this long for the upstream's answer
    call_timeout: float = 30.0  # a forwarded call unanswered this long is lost: the link reopens
    backoff: float = 1.0  # first reconnect delay, doubling (with jitter) up to ...
    backoff_max: float = 60.0
    sited: frozenset[str] = frozenset()  # stations on a site: their Tx profiles are held (profiles)


@dataclass(frozen=True, slots=True)
class Forward:
    """A station call for the upstream, as the station actor decides it; the reply is the upstream's
    answer payload, or None when the local policy must answer (link down, busy, backlog, an error).

    ``seq``: the sequence its FrameReceived gets in ``station/<id>``; ``local_tx``: the transaction id
    the station will be given (StartTransaction), mapped to the upstream's.
    """

    seq: int
    unique_id: str
    action: str
    payload: dict[str, Any]
    local_tx: TransactionId | None
    reply: Reply[dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class LinkStatus:
    station_id: str
    state: str  # "down" | "catching-up" | "live"
    url: str | None
    cursor: int
    backlog: int | None  # calls still to send; None: not counted since the last scan
    oldest: datetime | None  # when the oldest of them was recorded
    flaps: int
    sent: int  # calls sent from the log (catch-up) since the process started
    last_error: str | None


@dataclass(frozen=True, slots=True)
class InspectLink:
    reply: Reply[LinkStatus]


LinkMessage = Forward | InspectLink

# Sends a command to a station through the fleet and returns its reply payload (``Fleet.call``).
CommandCall = Callable[[str, Command], Awaitable[dict[str, Any]]]


@dataclass
class _Waiter:
    """One call of ours in flight upstream, from the log (``item``) or live (``forward``)."""

    item: Outgoing
    forward: Forward | None
    done: trio.Event = field(default_factory=trio.Event)
    answer: UpstreamAnswered | None = None  # None once done: no answer (timeout, link lost)


@dataclass
class UpstreamStats:
    """Counters of every link of the process, read by the metrics collector."""

    forwarded: int = 0  # answered live
    local: int = 0  # refused: answered by the local policy
    caught_up: int = 0  # sent from the log
    relayed: int = 0  # upstream commands relayed to a station
    flaps: int = 0  # connections lost after they were open
    # Each station's running link, for its state and backlog at a scrape (a restart replaces it).
    links: dict[str, UpstreamLink] = field(default_factory=dict)


class UpstreamLink(Actor[LinkMessage]):
    """See the module docstring."""

    def __init__(
        self,
        station_id: str,
        dialect: Dialect,
        dialer: Dialer,
        store: EventStore,
        clock: Clock,
        call: CommandCall,
        settings: LinkSettings,
        stats: UpstreamStats,
    ) -> None:
        self.station_id = station_id
        self.dialect = dialect
        self.dialer = dialer
        self.store = store
        self.clock = clock
        self.call = call
        self.settings = settings
        self.stats = stats
        self.station_stream = f"station/{station_id}"
        self.stream = f"upstream/{station_id}"
        self.log = LinkLog()
        # The fold of what is committed to the stream (``log`` runs ahead: answers are folded before
        # they are stored); its snapshots let a restart fold only the stream's tail.
        self.committed = LinkLog()
        self.snapshots = StreamSnapshots(store, f"actor/{self.stream}", self.stream, log_codec())
        self.state = "down"
        self.url: str | None = None
        self.last_error: str | None = None
        self.pending: Pending | None = None  # what is still to send; None: not counted yet
        self.sent = 0
        self._socket: Socket | None = None
        self._session: Session | None = None
        self._conn: trio.Nursery | None = None
        self._waiter: _Waiter | None = None
        self._dirty = True  # the log may hold calls to send: start by reading it
        self._refused_up_to = 0
        self._last_refused: tuple[Forward, datetime] | None = None  # the latest call answered locally
        self._refused_while_reading: list[tuple[Forward, datetime]] | None = None  # during a _scan
        self._kick = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self._append_lock = trio.Lock()
        self._held: Forward | None = None  # waits for the link to go live (see the module docstring)
        self._dialing = False
        self._nursery: trio.Nursery | None = None
        self._live_since_cursor = 0
        self._call_started = trio.Event()
        stats.links[station_id] = self

    # -- lifecycle ------------------------------------------------------------------------------

    async def started(self) -> None:
        restored = await self.snapshots.restore()
        self.committed, after = restored if restored is not None else (LinkLog(), 0)
        for record in await self.store.read_stream(self.stream, after=after):
            for event in events_of(record):
                self.committed.apply(event, record.sequence)
        self.committed.connected = False  # whatever the log says, this incarnation starts down
        self.log = copy.deepcopy(self.committed)

    async def run(self, inbox: Mailbox[LinkMessage]) -> None:
        await self.started()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._keep_connected)
            while True:
                message = await inbox.get()
                if isinstance(message, Forward):
                    await self._on_forward(message)
                else:
                    message.reply.send(self.status())

    def status(self) -> LinkStatus:
        pending = self.pending
        return LinkStatus(
            station_id=self.station_id,
            state=self.state,
            url=self.url,
            cursor=self.log.cursor,
            backlog=0 if self.state == "live" else pending.count if pending is not None else None,
            oldest=None if self.state == "live" or pending is None else pending.oldest,
            flaps=self.log.flaps,
            sent=self.sent,
            last_error=self.last_error,
        )

    # -- the connection -------------------------------------------------------------------------

    async def _keep_connected(self) -> None:
        failures = 0
        while True:
            try:
                self._dialing = True
                async with self.dialer.open(self.station_id, self.dialect.subprotocol) as socket:
                    self._dialing = False
                    failures = 0
                    await self._serve(socket)
            except LinkClosed as closed:
                self.last_error = str(closed)
                if self.state != "down":
                    logger.info("upstream link of %s closed: %s", self.station_id, closed)
            self._dialing = False
            await self._went_down(self.last_error or "closed")
            failures += 1
            if self.pending is None:  # once per process: later refusals add to it
                await self._count_backlog()
            base = min(self.settings.backoff_max, self.settings.backoff * 2 ** min(failures - 1, 30))
            await trio.sleep(base * (0.5 + _JITTER.random() / 2))

    async def _serve(self, socket: Socket) -> None:
        self.url = socket.url
        session = Session(
            Role.STATION, actions=self.dialect.actions, timeout=self.settings.call_timeout, id_prefix="u"
        )
        await self._append([UpstreamConnected(url=socket.url, subprotocol=self.dialect.subprotocol)])
        self.last_error = None
        self.state = "catching-up"
        self._dirty = True
        closed: list[LinkClosed] = []

        async def guarded(run: Callable[[], Awaitable[None]]) -> None:
            try:
                await run()
            except LinkClosed as error:
                closed.append(error)
                conn.cancel_scope.cancel()

        try:
            async with trio.open_nursery() as conn:
                self._socket, self._session, self._conn = socket, session, conn
                conn.start_soon(guarded, self._catch_up_forever)
                conn.start_soon(self._expire_calls, session)
                conn.start_soon(guarded, partial(self._read, socket, session))
        finally:
            self._socket = self._session = self._conn = None
        raise closed[0] if closed else LinkClosed("connection ended")

    async def _went_down(self, reason: str) -> None:
        was = self.state
        self.state = "down"
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._end(waiter, None)
        self._refuse_held()
        if was != "down":
            self.stats.flaps += 1
            try:
                await self._append([UpstreamDisconnected(reason=reason[:200])])
            except StoreError as error:
                logger.warning("upstream link of %s: disconnect not recorded: %s", self.station_id, error)

    async def _read(self, socket: Socket, session: Session) -> None:
        while True:
            text = await socket.receive()
            for event in session.receive(text, trio.current_time()):
                if isinstance(event, ResultReceived | ErrorReceived | CallFailed):
                    self._answered(event)
                elif isinstance(event, CallReceived):
                    assert self._conn is not None
                    self._conn.start_soon(self._relay, socket, session, event)
                elif isinstance(event, BadFrame | CallRefused) and event.reply is not None:
                    await socket.send(event.reply)

    # -- calls of ours ------------------------------------------------------------------------------

    async def _start_call(self, item: Outgoing, forward: Forward | None) -> _Waiter:
        """Send ``item`` upstream (the one call in flight); its answer ends the returned waiter."""
        socket, session, conn = self._socket, self._session, self._conn
        assert socket is not None and session is not None and conn is not None
        payload = to_upstream(item.action, item.payload, self.log.to_upstream_ids)
        outgoing = session.call(item.action, payload, trio.current_time())
        waiter = self._waiter = _Waiter(item, forward)
        self._idle = trio.Event()
        self._call_started.set()
        await socket.send(outgoing.text)
        return waiter

    async def _expire_calls(self, session: Session) -> None:
        """Time out our call in flight at its deadline (one timer per connection, not one per call)."""
        while True:
            deadline = session.next_deadline
            if deadline is None:
                self._call_started = trio.Event()
                await self._call_started.wait()
                continue
            await trio.sleep_until(deadline)
            if not session.expire(trio.current_time()):
                continue  # answered meanwhile (a newer call has its own deadline)
            waiter, self._waiter = self._waiter, None
            if waiter is not None:
                self._end(waiter, None)
                self._refuse_up_to(waiter.item.seq)

    def _answered(self, event: ResultReceived | ErrorReceived | CallFailed) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None:
            return
        item = waiter.item
        via = "live" if waiter.forward is not None else "catch-up"
        if isinstance(event, ResultReceived):
            answer = UpstreamAnswered(
                seq=item.seq,
                action=item.action,
                unique_id=item.unique_id,
                via=via,
                outcome="result",
                response=event.payload,
            )
        else:
            code, description = (
                (event.code, event.description)
                if isinstance(event, ErrorReceived)
                else (event.error.code.value, event.error.description)
            )
            answer = UpstreamAnswered(
                seq=item.seq,
                action=item.action,
                unique_id=item.unique_id,
                via=via,
                outcome="error",
                code=code,
                description=description[:200],
            )
        self._end(waiter, answer)

    def _end(self, waiter: _Waiter, answer: UpstreamAnswered | None) -> None:
        """A call of ours is over: answer the station actor (if live), record the answer."""
        waiter.answer = answer
        waiter.done.set()
        self._idle.set()
        if waiter.forward is not None:
            reply = answer.response if answer is not None and answer.outcome == "result" else None
            used = reply is not None and waiter.forward.reply.pending
            if waiter.forward.reply.pending:
                waiter.forward.reply.send(reply)
            if answer is None:
                self._refuse_up_to(waiter.item.seq)
            elif used and waiter.item.local_tx is None:
                # The station actor records UpstreamReplied with the call: nothing to append here.
                # Now and then a read of the log moves the cursor past what was answered live.
                self._live_since_cursor += 1
                if self._live_since_cursor >= COMPACT_EVERY:
                    self._refuse_up_to(0)
            elif self._conn is not None:  # too late for the station, an error, or a mapping to keep
                self._conn.start_soon(self._append_answer, self._note_answer(answer, waiter.item))

    def _note_answer(self, answer: UpstreamAnswered, item: Outgoing) -> list[Event]:
        """Fold ``answer`` (and the transaction-id mapping it decides) now; the events to append."""
        events: list[Event] = [answer]
        upstream_id = (answer.response or {}).get("transactionId")
        if item.local_tx is not None and upstream_id is not None and upstream_id != item.local_tx:
            events.append(TransactionIdMapped(local=item.local_tx, upstream=upstream_id))
        for event in events:
            self.log.apply(event)
        return events

    async def _record_answer(self, answer: UpstreamAnswered, item: Outgoing) -> None:
        """Fold ``answer`` and append it (with its mapping)."""
        await self._append_answer(self._note_answer(answer, item))

    async def _append_answer(self, events: list[Event]) -> None:
        try:
            await self._append(events)
        except StoreError as error:  # not fatal: at worst the call is sent again after a restart
            logger.warning("upstream link of %s: an answer was not recorded: %s", self.station_id, error)

    # -- live forwarding ------------------------------------------------------------------------

    async def _on_forward(self, forward: Forward) -> None:
        live = (
            self.state == "live"
            and not self._dirty
            and self._waiter is None
            and self._session is not None
            and self._session.in_flight is None
        )
        if not live and self._held is None and (self.state == "catching-up" or self._dialing):
            self._held = forward
            assert self._nursery is not None
            self._nursery.start_soon(self._hold, forward)
            return
        if not live:
            self._refuse(forward)
            return
        await self._send_live(forward)

    async def _hold(self, forward: Forward) -> None:
        """Refuse ``forward`` if it is still held when most of the station's wait has passed."""
        await trio.sleep(self.settings.reply_timeout * 0.8)
        if self._held is forward:
            self._refuse_held()

    def _refuse_held(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._refuse(held)

    def _refuse(self, forward: Forward) -> None:
        """The station is answered locally; its call waits in the log for a catch-up."""
        if forward.reply.pending:
            forward.reply.send(None)
        self.stats.local += 1
        refused = self._last_refused = (forward, self.clock.wall())
        if self.pending is not None:
            self.pending.add(forward.seq, forward.action, forward.payload, refused[1])
        if self._refused_while_reading is not None:
            self._refused_while_reading.append(refused)
        self._refuse_up_to(forward.seq)

    async def _send_live(self, forward: Forward) -> None:
        if not forward.reply.pending:  # the station was answered locally meanwhile
            self._refuse(forward)
            return
        item = Outgoing(
            forward.seq,
            forward.unique_id,
            forward.action,
            forward.payload,
            self.clock.wall(),
            forward.local_tx,
        )
        try:
            await self._start_call(item, forward)
        except LinkClosed:
            self._waiter = None
            self._idle.set()
            self._refuse(forward)
            return
        self.stats.forwarded += 1

    def _refuse_up_to(self, seq: int) -> None:
        """The call at ``seq`` was not answered upstream: it waits in the log for a catch-up."""
        self._dirty = True
        self._refused_up_to = max(self._refused_up_to, seq)
        if self.state == "live":
            self.state = "catching-up"
        self._kick.set()

    # -- catch-up ---------------------------------------------------------------------------------

    async def _catch_up_forever(self) -> None:
        while True:
            if self._dirty:
                await self._catch_up()
            self._kick = trio.Event()
            if not self._dirty:
                await self._kick.wait()

    async def _catch_up(self) -> None:
        """Send what the log holds beyond the cursor, one call at a time, until nothing is left."""
        settle_by = trio.current_time() + _SETTLE
        while True:
            await self._idle.wait()  # a live call still in flight ends first
            self._dirty = False
            self.state = "catching-up"
            pending, head = await self._scan()
            items = pending.read
            if not items:
                if head < self._refused_up_to and trio.current_time() < settle_by:
                    await trio.sleep(0.05)  # a refused call's exchange is still being committed
                    continue
                if self._dirty:
                    continue
                if head > self.log.cursor:
                    self.log.advance(head)
                    await self._append([UpstreamCursor(seq=head)])
                self._live_since_cursor = 0
                self.state = "live"
                held, self._held = self._held, None
                if held is not None:
                    await self._send_live(held)
                return
            for item in items:
                waiter = await self._start_call(item, None)
                await waiter.done.wait()
                if waiter.answer is None:
                    raise LinkClosed(f"no answer to {item.action} within {self.settings.call_timeout:g} s")
                if item.local_tx is not None:  # its mapping is stored before a message uses it
                    await self._record_answer(waiter.answer, item)
                else:  # folded now, stored behind the next sends: a crash re-sends at most those
                    assert self._conn is not None
                    self._conn.start_soon(self._append_answer, self._note_answer(waiter.answer, item))
                self.sent += 1
                self.stats.caught_up += 1
                pending.sent()

    async def _scan(self) -> tuple[Pending, int]:
        """The calls to send from the station's stream after the cursor (counted in :attr:`pending`,
        with the calls answered locally that the read did not reach), and the last sequence read."""
        # The station's calls are committed one after the other: of those refused before the read,
        # only the last can still be on its way to the log.
        refused = self._refused_while_reading = [self._last_refused] if self._last_refused else []
        try:
            records = await self.store.read_stream(self.station_stream, after=self.log.cursor)
        finally:
            self._refused_while_reading = None
        rows = [(r.sequence, r.time, event) for r in records for event in events_of(r)]
        head = records[-1].sequence if records else self.log.cursor
        pending = Pending.of(backlog(rows, self.dialect.actions.station_initiated, self.log.answered))
        for forward, at in refused:
            if forward.seq > head:
                pending.add(forward.seq, forward.action, forward.payload, at)
        self.pending = pending
        return pending, head

    async def _count_backlog(self) -> None:
        """While down: how much waits in the log (for the API and metrics)."""
        try:
            await self._scan()
        except StoreError:
            return

    # -- commands from the upstream -------------------------------------------------------------

    async def _relay(self, socket: Socket, session: Session, call: CallReceived) -> None:
        payload = to_station(call.action, call.payload, self.log.to_local_ids)
        held: list[Event] = []
        if self.station_id in self.settings.sited and call.action == "SetChargingProfile":
            try:
                profile = held_profile(payload, self.clock.wall())
            except ProfileError as error:
                await self._answer_here(socket, session, call, {"status": "Rejected"}, [], str(error))
                return
            if profile is not None:  # for the site actor to apply (actors.upstream.profiles)
                await self._answer_here(socket, session, call, {"status": "Accepted"}, [profile])
                return
        if self.station_id in self.settings.sited and call.action == "ClearChargingProfile":
            cleared, for_station = cleared_profiles(payload)
            if not for_station:
                await self._answer_here(socket, session, call, {"status": "Accepted"}, [cleared])
                return
            held.append(cleared)
        try:
            result = await self.call(self.station_id, Command(call.action, payload))
        except CommandRejected as rejected:
            text = session.answer_error(call.unique_id, OcppError(_code(rejected.code), str(rejected)[:200]))
            relayed = UpstreamCommandRelayed(
                action=call.action,
                unique_id=call.unique_id,
                outcome="error",
                code=rejected.code,
                description=str(rejected)[:200],
            )
        except CommandError as failed:
            text = session.answer_error(call.unique_id, OcppError(ErrorCode.GENERIC_ERROR, str(failed)[:200]))
            relayed = UpstreamCommandRelayed(
                action=call.action,
                unique_id=call.unique_id,
                outcome="error",
                code=ErrorCode.GENERIC_ERROR.value,
                description=str(failed)[:200],
            )
        else:
            text = session.answer(call.unique_id, result)
            relayed = UpstreamCommandRelayed(
                action=call.action, unique_id=call.unique_id, outcome="result", response=result
            )
        await self._relayed(socket, text, [*held, relayed])

    async def _answer_here(
        self,
        socket: Socket,
        session: Session,
        call: CallReceived,
        result: dict[str, Any],
        events: list[Event],
        description: str | None = None,
    ) -> None:
        """Answer a command for the site without the station (``events`` first: the answer follows
        what it says is done)."""
        relayed = UpstreamCommandRelayed(
            action=call.action,
            unique_id=call.unique_id,
            outcome="result",
            response=result,
            description=description,
        )
        await self._relayed(socket, session.answer(call.unique_id, result), [*events, relayed])

    async def _relayed(self, socket: Socket, text: str, events: list[Event]) -> None:
        self.stats.relayed += 1
        try:
            await self._append(events)
        except StoreError as error:
            logger.warning("upstream link of %s: a relayed command not recorded: %s", self.station_id, error)
        try:
            await socket.send(text)
        except LinkClosed:  # the reader sees the close and ends the connection
            pass

    # -- the link's stream ------------------------------------------------------------------------

    async def _append(self, events: list[Event]) -> None:
        """Append in order (one at a time); shielded, so a closing link never leaves an append whose
        outcome it does not know (its next append would then conflict)."""
        with trio.CancelScope(shield=True):
            await self._append_shielded(events)

    async def _append_shielded(self, events: list[Event]) -> None:
        async with self._append_lock:
            records = await self.store.append(
                new_events(self.stream, events, self.clock.wall()), expected={self.stream: self.log.version}
            )
            self.log.version = records[-1].sequence
            for event in events:
                if isinstance(event, UpstreamConnected | UpstreamDisconnected):
                    self.log.apply(event)
            for record in records:
                for event in events_of(record):
                    self.committed.apply(event, record.sequence)
            if self.snapshots.due(self.committed.version) and self._nursery is not None:
                self.snapshots.save_soon(self._nursery, self.committed, self.committed.version)


def _code(code: str) -> ErrorCode:
    try:
        return ErrorCode(code)
    except ValueError:
        return ErrorCode.GENERIC_ERROR


__all__ = [
    "CommandCall",
    "Dialer",
    "Forward",
    "InspectLink",
    "LinkClosed",
    "LinkMessage",
    "LinkSettings",
    "LinkStatus",
    "Socket",
    "UpstreamLink",
    "UpstreamStats",
]
