"""The site actor: one per site, keeping its connectors within the site's limits, round after round.

It follows the committed log (a :class:`~core.follow.Follower`) and folds what concerns its site into
a :class:`~actors.sites.view.SiteView`: its stations' connector status, transactions and measured
currents, its grid meter's readings, and the limits each source set. An **allocation round** runs
when an input changed (after ``debounce`` seconds, so a burst of events makes one round) and at least
every ``round_interval`` seconds. Each round

1. decides the targets (:func:`actors.sites.decide.decide`: the allocation, or the failsafe current
   when the grid meter is stale) and, when the site has an optimizer and connectors with charging
   needs, fits the last plan made for them under the allocation (:mod:`actors.sites.planning`).
   Plans are made in a worker thread, off the rounds (the solver takes from tens of milliseconds to
   seconds, and a round must not wait: a decrease goes out at once), whenever what the last plan
   depends on changed (:func:`~actors.sites.planning.plan_key`); a round follows each new plan,
2. paces them (:func:`actors.sites.pacing.pace`: a decrease goes at once, a small or too early rise
   waits) and renews allocations before they lapse (half their ``profile_validity``),
3. appends one :class:`~actors.events.site.SiteRound` to ``site/<id>`` with its inputs, outputs and
   the plan (and, at the start and every :data:`CHECKPOINT_EVERY` rounds, the whole view it decided
   from: a checkpoint), and only then
4. sends what changed through the :class:`~actors.sites.control.ChargingControl` port, one send per
   connector at a time, in order (a failed send is forgotten, so the next round sends again).

While a plan is in force the actor also wakes at the start of each of its slots, where a planned
connector's current may rise (a profile never rises by itself).

Before the site is managed, every connected station of the site gets the failsafe profile (at the
actor's start, and each time a station boots). A restarted actor resumes from its last checkpoint: the
view it carries and the log after that round's position (the sends in force from the last round).

Limits by source are set through the actor (:class:`SetSiteLimit`), which appends them to the site's
stream, so the stream has one writer; the actor applies them when its follower reads them back.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import trio

from actors.events import events_of, new_events
from actors.events.site import SiteLimitCleared, SiteLimitSet, SiteRound
from actors.events.station import StationBooted, TransactionStarted, TransactionStopped
from actors.sites.control import ChargingControl, ControlFailed, Setpoint
from actors.sites.decide import Decision, decide, failsafe_excess
from actors.sites.limits import Bound
from actors.sites.model import ConnectorId, Site
from actors.sites.pacing import Sent, pace
from actors.sites.planning import Made, PlanInputs, Planned, fit_plan, make_plan, plan_inputs, plan_key
from actors.sites.view import ConnectorState, SiteView, limit_data, limit_of
from core.actor import Actor, Reply
from core.clock import Clock
from core.mailbox import Mailbox
from core.store import EventStore

logger = logging.getLogger("chargeward.site")

#: How far back from its stream's end the actor looks for its last checkpoint before reading it all.
RESUME_TAIL = 64
#: A round carries the actor's whole view (a checkpoint to resume from) once in this many rounds, and
#: at the start; the others carry their inputs and outputs only, so a round's event stays small.
CHECKPOINT_EVERY = 20


@dataclass(slots=True)
class SiteStats:
    """One site's counters and last decision, as the metrics exporter and the API read them."""

    rounds: Counter[str] = field(default_factory=Counter)  # by reason
    sends: Counter[str] = field(default_factory=Counter)  # "accepted" / "failed"
    failsafe_sends: Counter[str] = field(default_factory=Counter)
    seconds_over: float = 0.0  # time the measured load was above the limit in force
    last: Decision | None = None
    last_at: datetime | None = None
    last_reason: str | None = None
    in_force: dict[ConnectorId, float] = field(default_factory=dict)  # what each connector was sent
    load: tuple[float | None, ...] = (None, None, None)  # A per phase the grid meter read (None: unknown)
    plan: dict[str, Any] | None = None  # the last round's plan, as its event records it
    plans: Counter[str] = field(default_factory=Counter)  # "planned" / "failed"
    failsafe_warning: str | None = None  # the failsafe currents of the connectors seen exceed a limit


@dataclass(frozen=True, slots=True)
class _Taken:
    """What a round decided from, as the event records it: the log position, the view when the round
    is a checkpoint, the connectors' states."""

    position: int
    checkpoint: dict[str, Any] | None
    states: Mapping[ConnectorId, ConnectorState]


@dataclass(frozen=True, slots=True)
class InspectSite:
    reply: Reply[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SetSiteLimit:
    """Set (``SiteLimitSet``) or lift (``SiteLimitCleared``) one source's limit; answered once committed."""

    event: SiteLimitSet | SiteLimitCleared
    reply: Reply[int]


SiteMessage = InspectSite | SetSiteLimit


class SiteActor(Actor[SiteMessage]):
    def __init__(
        self,
        site: Site,
        store: EventStore,
        clock: Clock,
        control: ChargingControl,
        stats: SiteStats,
        controllers: Mapping[ConnectorId, str] | None = None,
    ) -> None:
        self.site = site
        self.store = store
        self.clock = clock
        self.control = control
        self.stats = stats
        self.stream = f"site/{site.id}"
        self.view = SiteView(site)
        self.position = 0
        self.sent: dict[ConnectorId, Sent] = {}
        self._changed = trio.Event()
        self._locks: dict[ConnectorId, trio.Lock] = {}
        self._last_round = 0.0
        self._since_checkpoint = 0
        self._made: Made | None = None  # the last plan made
        self._made_for: tuple[object, ...] | None = None  # the plan_key of the last plan started
        self._making = False  # a plan is being made in a worker thread
        self._nursery: trio.Nursery | None = None
        self.controllers = dict(controllers or {})  # connector -> its EVSE controller's device id

    async def run(self, inbox: Mailbox[SiteMessage]) -> None:
        await self._resume()
        self.view.control(self.controllers, self.clock.wall())
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self._follow)
            for station in sorted(self.view.connected):
                nursery.start_soon(self._secure, station)
            await self._round("start")
            nursery.start_soon(self._rounds)
            while True:
                await self._receive(await inbox.get())

    async def _resume(self) -> None:
        """The view of the last round carrying one (a checkpoint) and the sends of the last round."""
        version = await self.store.stream_version(self.stream)
        last: SiteRound | None = None
        checkpoint: SiteRound | None = None
        for after in (max(0, version - RESUME_TAIL), 0):
            for record in await self.store.read_stream(self.stream, after=after):
                for event in events_of(record):
                    if isinstance(event, SiteRound):
                        last = event
                        if event.state is not None:
                            checkpoint = event
            if checkpoint is not None or after == 0:
                break
        if last is None or checkpoint is None:
            return
        self.view = SiteView.from_data(self.site, checkpoint.state or {})
        self.position = checkpoint.position
        now = self.clock.monotonic()
        for item in last.connectors:
            if item["in_force"] is not None:
                self.sent[ConnectorId(item["station"], item["connector"])] = Sent(item["in_force"], now)

    async def _follow(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Fold the log into the view; ready once caught up with the head at start."""
        head = await self.store.head()
        streams = self.view.streams()
        follower = self.store.follow(self.position)
        caught_up = self.position >= head
        if caught_up:
            task_status.started()
        while True:
            for record in await follower.next_batch():
                if record.stream not in streams:
                    continue
                for event in events_of(record):
                    if self.view.apply(record.stream, event, record.time):
                        self._changed.set()
                    if isinstance(event, TransactionStarted | TransactionStopped) and event.connector:
                        # A TxProfile ends with its transaction: nothing sent before is in force now
                        station = record.stream.partition("/")[2]
                        self.sent.pop(ConnectorId(station, event.connector), None)
                    if caught_up and isinstance(event, StationBooted) and event.status == "Accepted":
                        assert self._nursery is not None
                        self._nursery.start_soon(self._secure, record.stream.partition("/")[2])
            self.position = follower.position
            if not caught_up and self.position >= head:
                caught_up = True
                task_status.started()

    async def _rounds(self) -> None:
        pacing = self.site.pacing
        while True:
            wait, reason = pacing.round_interval, "interval"
            if self.stats.plan is not None and "error" not in self.stats.plan:
                slot = self.site.planning.slot
                to_slot = slot - self.clock.wall().timestamp() % slot + 0.5
                if to_slot < wait:
                    wait, reason = to_slot, "slot"
            with trio.move_on_after(wait):
                await self._changed.wait()
            if self._changed.is_set():
                reason = "change"
                await trio.sleep(pacing.debounce)
            await self._round(reason)

    async def _round(self, reason: str) -> None:
        self._changed = trio.Event()
        pacing = self.site.pacing
        now = self.clock.wall().replace(microsecond=0)
        mono = self.clock.monotonic()
        decision = decide(self.view, now, {k: s.current for k, s in self.sent.items()})
        warning = failsafe_excess(self.view)
        if warning is not None and warning != self.stats.failsafe_warning:
            logger.warning("site %s: %s: lower failsafe_current or raise the limit", self.site.id, warning)
        self.stats.failsafe_warning = warning
        planned = Planned(decision, {}, None)
        inputs = plan_inputs(self.view, decision, now)
        if inputs is None:
            self._made = self._made_for = None
        else:
            self._replan(now, decision, inputs)
            if self._made is not None:
                planned = fit_plan(
                    self.site, now, decision, inputs, self._made, valid_for=pacing.profile_validity
                )
        decision = planned.decision
        paced = pace(
            decision.targets, self.sent, mono, deadband=pacing.deadband, min_interval=pacing.min_interval
        )
        send = dict(paced.send)
        for key, last in self.sent.items():
            if (
                key not in send
                and paced.in_force.get(key) == last.current
                and mono - last.at >= pacing.profile_validity / 2
            ):
                send[key] = last.current  # renewed before it lapses to the failsafe
        for key in [k for k in self.sent if k not in decision.targets]:
            del self.sent[key]  # no longer wants power: its TxProfile ended with its transaction
        states = {d.connector: self.view.connectors[d.connector] for d in decision.demands}
        taken = _Taken(self.position, self._checkpoint(reason), states)
        event = self._event(reason, decision, paced.in_force, send, planned.record, taken)
        await self.store.append(new_events(self.stream, [event], now))
        if self.stats.last is not None and self.stats.last.over > 0:
            self.stats.seconds_over += mono - self._last_round
        self._last_round = mono
        self.stats.rounds[reason] += 1
        self.stats.last, self.stats.last_at, self.stats.last_reason = decision, now, reason
        self.stats.in_force = dict(paced.in_force)
        self.stats.plan = planned.record
        trusted = self.site.meter is not None and not decision.failsafe
        self.stats.load = self.view.meter.current if trusted else (None, None, None)
        assert self._nursery is not None
        phases_of = {demand.connector: len(demand.phases) for demand in decision.demands}
        for key, amps in send.items():
            sent = self.sent[key] = Sent(amps, mono)
            state = self.view.connectors[key]
            phases = phases_of.get(key, len(self.site.settings_of(key).phases))
            periods = tuple((offset, min(value, amps)) for offset, value in planned.periods.get(key, ()))
            setpoint = Setpoint(key, amps, phases, state.transaction, now, pacing.profile_validity, periods)
            self._nursery.start_soon(self._apply, setpoint, sent)

    def _event(
        self,
        reason: str,
        decision: Decision,
        in_force: Mapping[ConnectorId, float],
        send: Mapping[ConnectorId, float],
        plan: dict[str, Any] | None,
        taken: _Taken,
    ) -> SiteRound:
        allocation = decision.allocation
        connectors = []
        for demand in decision.demands:
            key = demand.connector
            state = taken.states[key]
            connectors.append(
                {
                    "station": key.station,
                    "connector": key.connector,
                    "transaction": state.transaction,
                    "status": state.status,
                    "phases": list(demand.phases),
                    "measured": list(state.measured),
                    "target": decision.targets[key],
                    "in_force": in_force.get(key),
                    "sent": key in send,
                }
            )
        meter = None
        if self.site.meter is not None:
            reading = self.view.meter
            meter = {
                "current": list(reading.current),
                "at": None if reading.at is None else reading.at.isoformat(),
                "stale": reading.stale,
            }
        return SiteRound(
            reason=reason,
            position=taken.position,
            failsafe=decision.failsafe,
            meter=meter,
            non_ev=None if decision.non_ev is None else list(decision.non_ev),
            limits={
                "current": _bound(decision.in_force.current),
                "power": _bound(decision.in_force.power),
                "binding": _bound(decision.in_force.binding),
            },
            connectors=connectors,
            overloads=[
                {"level": o.level, "phase": o.phase, "excess": o.excess}
                for o in (allocation.overloads if allocation is not None else ())
            ],
            state=taken.checkpoint,
            plan=plan,
        )

    def _replan(self, now: datetime, decision: Decision, inputs: PlanInputs) -> None:
        """Start making a plan in a worker thread when what the last one depends on has changed and
        none is being made; rounds use the last plan made meanwhile (the solver takes from tens of
        milliseconds to seconds, which a round must not wait for: a decrease goes out at once)."""
        key = plan_key(inputs, decision, now, self.site)
        if self._making or key == self._made_for:
            return  # a round after the plan in the making is done asks again
        self._made_for, self._making = key, True
        assert self._nursery is not None
        self._nursery.start_soon(self._make, now, decision, inputs)

    async def _make(self, now: datetime, decision: Decision, inputs: PlanInputs) -> None:
        """Make a plan; a solver that fails in any way is a failed plan (the rounds keep the
        allocation), never a crash: the optimizer improves on the allocation, which must go on."""
        try:
            made = await trio.to_thread.run_sync(partial(make_plan, self.site, now, decision, inputs))
        except Exception as error:
            logger.exception("site %s: the optimizer failed", self.site.id)
            made = Made(now, None, None, (0.0, 0.0, 0.0), error=f"{type(error).__name__}: {error}")
        finally:
            self._making = False
        self.stats.plans["failed" if made.error is not None else "planned"] += 1
        self._made = made
        self._changed.set()  # a round applies it now

    def _checkpoint(self, reason: str) -> dict[str, Any] | None:
        """The view, when this round is a checkpoint."""
        if reason != "start" and self._since_checkpoint + 1 < CHECKPOINT_EVERY:
            self._since_checkpoint += 1
            return None
        self._since_checkpoint = 0
        return self.view.as_data()

    async def _apply(self, setpoint: Setpoint, sent: Sent) -> None:
        lock = self._locks.setdefault(setpoint.connector, trio.Lock())
        async with lock:
            if self.sent.get(setpoint.connector) is not sent:
                return  # a newer decision for this connector replaced this one before it went out
            try:
                await self.control.apply(setpoint)
            except ControlFailed:
                self.stats.sends["failed"] += 1
                if self.sent.get(setpoint.connector) is sent:
                    del self.sent[setpoint.connector]  # unknown what is in force: send again next round
                return
            self.stats.sends["accepted"] += 1

    async def _secure(self, station: str) -> None:
        try:
            await self.control.secure(station, self.site.failsafe_current)
        except ControlFailed:
            self.stats.failsafe_sends["failed"] += 1
            return
        self.stats.failsafe_sends["accepted"] += 1

    async def _receive(self, message: SiteMessage) -> None:
        if isinstance(message, InspectSite):
            message.reply.send(self.snapshot())
            return
        if isinstance(message, SetSiteLimit):
            if isinstance(message.event, SiteLimitSet):
                try:
                    limit_of(message.event)
                except ValueError as error:
                    message.reply.fail(error)
                    return
            records = await self.store.append(new_events(self.stream, [message.event], self.clock.wall()))
            message.reply.send(records[-1].position)

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /api/sites/{id}`` shows."""
        stats = self.stats
        decision = stats.last
        meter = self.view.meter
        by_source = {
            source.value: limit_data(limit)
            for source, limit in sorted(self.view.limits.items(), key=lambda item: item[0].rank)
        }
        connectors = []
        if decision is not None:
            for demand in decision.demands:
                key = demand.connector
                connectors.append(
                    {
                        "station": key.station,
                        "connector": key.connector,
                        "target": decision.targets[key],
                        "in_force": stats.in_force.get(key),
                        "phases": list(demand.phases),
                        "measured": list(self.view.connectors[key].measured),
                    }
                )
        return {
            "id": self.site.id,
            "stations": list(self.site.stations),
            "connected": sorted(self.view.connected),
            "policy": self.site.policy.value,
            "limits": {
                "configured": {"max_current": self.site.max_current, "max_power": self.site.max_power},
                "sources": by_source,
                "current": None if decision is None else _bound(decision.in_force.current),
                "power": None if decision is None else _bound(decision.in_force.power),
                "binding": None if decision is None else _bound(decision.in_force.binding),
            },
            "meter": None
            if self.site.meter is None
            else {
                "id": self.site.meter,
                "current": list(meter.current),
                "at": None if meter.at is None else meter.at.isoformat(),
                "stale": meter.stale,
            },
            "non_ev": None if decision is None or decision.non_ev is None else list(decision.non_ev),
            "failsafe": None if decision is None else decision.failsafe,
            "failsafe_warning": stats.failsafe_warning,
            "over": None if decision is None else decision.over,
            "connectors": connectors,
            "needs": [
                {
                    "station": key.station,
                    "connector": key.connector,
                    "source": need.source,
                    "energy_wh": need.energy_wh,
                    "remaining_wh": self.view.remaining(key),
                    "departure": need.departure,
                    "max_current": need.max_current,
                    "min_current": need.min_current,
                }
                for key, need in sorted(self.view.needs.items())
            ],
            "plan": stats.plan,
            "last_round": None
            if stats.last_at is None
            else {"at": stats.last_at.isoformat(), "reason": stats.last_reason},
        }


def _bound(bound: Bound | None) -> dict[str, Any] | None:
    if bound is None:
        return None
    return {
        "value": bound.value,
        "unit": bound.unit.value,
        "source": None if bound.source is None else bound.source.value,
    }
