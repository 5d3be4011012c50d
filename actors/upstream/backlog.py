"""What a station's upstream link still owes the upstream: pure functions over the logged events.

The log is the upstream queue. :class:`LinkLog` folds the link's own stream (``upstream/<id>``) into
the cursor (every station call up to it is done with), the calls answered upstream beyond it, and
the transaction-id mapping. :func:`backlog` reads the station's stream after the cursor and returns
the station's calls still to send, in the order the station sent them:

- only CALLs the station sent and chargeward answered with a result (a call refused locally with a
  CALLERROR was never accepted, so the upstream has nothing to learn from it);
- calls already answered upstream are skipped: live ones by the :class:`UpstreamReplied` that
  follows them in the station's stream, late ones and errors by sequence and the station's id;
- Heartbeat, BootNotification and each connector's StatusNotification are coalesced to the latest,
  sent where the latest stands; an Authorize after the fact decides nothing, so it is not sent;
- everything else (StartTransaction, MeterValues, StopTransaction, TransactionEvent, DataTransfer,
  ...) goes as recorded, with its own timestamps.

:class:`Pending` keeps what is still to send counted between two reads of the log (for the API and
the metrics), the way the next read will count it.

:func:`to_upstream` and :func:`to_station` rewrite transaction ids between the local ids stations
were given and the upstream's (1.6; 2.0.1 stations make their transaction ids up themselves).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from actors.events import Event, TransactionId
from actors.events.station import FrameReceived, FrameSent
from actors.events.upstream import (
    TransactionIdMapped,
    UpstreamAnswered,
    UpstreamConnected,
    UpstreamCursor,
    UpstreamDisconnected,
    UpstreamReplied,
)
from actors.ocpp import Call, CallResult, OcppError, parse_frame
from core.state_codec import StateCodec

# Sent only as the latest of their kind (per connector for StatusNotification).
COALESCED = frozenset({"Heartbeat", "BootNotification", "StatusNotification"})
# Not sent after the fact: the answer would decide nothing any more.
NOT_REPLAYED = frozenset({"Authorize"})
# Station calls naming a transaction by the id chargeward gave the station (OCPP 1.6).
NAMES_TRANSACTION = frozenset({"MeterValues", "StopTransaction"})


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One station call to send upstream: ``seq`` of its FrameReceived, the station's ``unique_id``,
    its payload as the station sent it, and (StartTransaction) the local id the station was given."""

    seq: int
    unique_id: str
    action: str
    payload: dict[str, Any]
    recorded: datetime
    local_tx: TransactionId | None = None


@dataclass
class LinkLog:
    """The fold of ``upstream/<id>``: the cursor, answers beyond it, the transaction-id mapping."""

    cursor: int = 0
    answered: dict[int, str] = field(default_factory=dict)  # seq -> the station's unique id
    to_upstream_ids: dict[TransactionId, TransactionId] = field(default_factory=dict)
    to_local_ids: dict[TransactionId, TransactionId] = field(default_factory=dict)
    flaps: int = 0
    connected: bool = False
    version: int = 0

    def apply(self, event: Event, sequence: int | None = None) -> None:
        if sequence is not None:
            self.version = sequence
        if isinstance(event, UpstreamAnswered):
            if event.via == "catch-up":
                self.advance(event.seq)
            elif event.seq > self.cursor:
                self.answered[event.seq] = event.unique_id
        elif isinstance(event, UpstreamCursor):
            self.advance(event.seq)
        elif isinstance(event, TransactionIdMapped):
            self.to_upstream_ids[event.local] = event.upstream
            self.to_local_ids[event.upstream] = event.local
        elif isinstance(event, UpstreamConnected):
            self.connected = True
        elif isinstance(event, UpstreamDisconnected):
            if self.connected:
                self.flaps += 1
            self.connected = False

    def advance(self, seq: int) -> None:
        """Move the cursor to ``seq`` (never back), forgetting answers at or before it."""
        if seq > self.cursor:
            self.cursor = seq
            self.answered = {s: u for s, u in self.answered.items() if s > seq}


LOG_VERSION = 1
"""Bump when :class:`LinkLog` changes meaning without changing shape (its snapshots are then ignored)."""


@functools.cache
def log_codec() -> StateCodec[LinkLog]:
    """How a link's :class:`LinkLog` is snapshotted (``actors.snapshots``), so a restarted link folds
    only its stream's tail; one per process (its fingerprint reads this module's source)."""
    return StateCodec(LinkLog, (), version=LOG_VERSION, modules=(sys.modules[__name__],))


def _coalesce_key(action: str, payload: dict[str, Any]) -> tuple[Any, ...]:
    """What a later call of the same kind replaces: per connector for StatusNotification."""
    if action == "StatusNotification":
        return (action, payload.get("evseId"), payload.get("connectorId"))
    return (action,)


def backlog(
    records: Iterable[tuple[int, datetime, Event]],
    station_actions: frozenset[str],
    answered: Mapping[int, str],
) -> list[Outgoing]:
    """The station calls among ``records`` (seq, time, event of ``station/<id>``, in order) still to
    send upstream, in order; see the module docstring for what is left out and coalesced."""
    calls: list[Outgoing] = []
    results: dict[str, dict[str, Any]] = {}
    for seq, time, event in records:
        if isinstance(event, UpstreamReplied):  # the call just before it got the upstream's answer
            if calls and calls[-1].seq == seq - 1 and calls[-1].unique_id == event.unique_id:
                calls.pop()
            continue
        if isinstance(event, FrameSent) and event.action is None:
            frame = _parse(event.text)
            if isinstance(frame, CallResult):
                results[frame.unique_id] = frame.payload
            continue
        if not isinstance(event, FrameReceived) or event.error is not None or event.late:
            continue
        if event.action not in station_actions or event.action in NOT_REPLAYED:
            continue
        frame = _parse(event.text)
        if not isinstance(frame, Call) or answered.get(seq) == frame.unique_id:
            continue
        calls.append(Outgoing(seq, frame.unique_id, frame.action, frame.payload, time))
    latest: dict[tuple[Any, ...], int] = {}
    for item in calls:
        if item.action in COALESCED:
            latest[_coalesce_key(item.action, item.payload)] = item.seq
    kept: list[Outgoing] = []
    for item in calls:
        if item.action in COALESCED and latest[_coalesce_key(item.action, item.payload)] != item.seq:
            continue
        answer = results.get(item.unique_id)
        if answer is None:
            continue  # answered with a CALLERROR after all (an InternalError when its commit failed)
        if item.action == "StartTransaction" and "transactionId" in answer:
            item = replace(item, local_tx=answer["transactionId"])
        kept.append(item)
    return kept


@dataclass
class Pending:
    """How many calls a link still owes the upstream and since when, kept between two reads of the log.

    A read gives the exact list (:func:`backlog`); from then on each call of it sent upstream leaves
    (:meth:`sent`, in order), and each call the station was answered for locally joins (:meth:`add`)
    as the next read will count it: an Authorize not at all, a Heartbeat, BootNotification or a
    connector's StatusNotification in place of the one of its kind that waits. So :attr:`count` is what
    will be sent, not how many calls were answered locally (a station that heartbeats through an hour
    offline owes one Heartbeat), and :attr:`oldest` when the oldest of those was recorded.
    """

    read: list[Outgoing] = field(default_factory=list)  # the last read's calls, in order
    done: int = 0  # how many of them were sent
    plain_left: int = 0  # of them, those not coalesced, not yet sent
    added: int = 0  # calls answered locally since the read, sent as recorded
    first_added: datetime | None = None  # when the first of those was recorded
    latest: dict[tuple[Any, ...], tuple[int, datetime]] = field(default_factory=dict)
    """Each coalesced kind still owed: the seq and time of its latest call, read or added."""

    @classmethod
    def of(cls, read: list[Outgoing]) -> Pending:
        pending = cls(read=read)
        for item in read:
            if item.action in COALESCED:
                pending.latest[_coalesce_key(item.action, item.payload)] = (item.seq, item.recorded)
            else:
                pending.plain_left += 1
        return pending

    @property
    def count(self) -> int:
        return self.plain_left + self.added + len(self.latest)

    @property
    def oldest(self) -> datetime | None:
        times = [recorded for _, recorded in self.latest.values()]
        if self.plain_left:  # the read's first unsent plain call (only coalesced ones can come before)
            index = self.done
            while self.read[index].action in COALESCED:
                index += 1
            times.append(self.read[index].recorded)
        elif self.first_added is not None:
            times.append(self.first_added)
        return min(times, default=None)

    def add(self, seq: int, action: str, payload: dict[str, Any], recorded: datetime) -> None:
        """The station call at ``seq`` was answered locally: it waits in the log."""
        if action in NOT_REPLAYED:
            return
        if action in COALESCED:
            self.latest[_coalesce_key(action, payload)] = (seq, recorded)
            return
        self.added += 1
        if self.first_added is None:
            self.first_added = recorded

    def sent(self) -> None:
        """The read's next call was answered upstream."""
        item = self.read[self.done]
        self.done += 1
        if item.action not in COALESCED:
            self.plain_left -= 1
            return
        key = _coalesce_key(item.action, item.payload)
        if self.latest.get(key, (None,))[0] == item.seq:  # not replaced by a later one since
            del self.latest[key]


def _parse(text: str | bytes) -> Call | CallResult | None:
    try:
        frame = parse_frame(text)
    except OcppError:
        return None
    return frame if isinstance(frame, Call | CallResult) else None


def to_upstream(
    action: str, payload: dict[str, Any], ids: Mapping[TransactionId, TransactionId]
) -> dict[str, Any]:
    """The station's ``payload`` with the local transaction id it names replaced by the upstream's."""
    if action in NAMES_TRANSACTION and payload.get("transactionId") in ids:
        return {**payload, "transactionId": ids[payload["transactionId"]]}
    return payload


def to_station(
    action: str, payload: dict[str, Any], ids: Mapping[TransactionId, TransactionId]
) -> dict[str, Any]:
    """An upstream command's ``payload`` with the upstream transaction id it names replaced by the
    local one the station knows (RemoteStopTransaction, a TxProfile of SetChargingProfile)."""
    if action == "RemoteStopTransaction" and payload.get("transactionId") in ids:
        return {**payload, "transactionId": ids[payload["transactionId"]]}
    if action == "SetChargingProfile":
        profile = payload.get("csChargingProfiles")
        if isinstance(profile, dict) and profile.get("transactionId") in ids:
            return {
                **payload,
                "csChargingProfiles": {**profile, "transactionId": ids[profile["transactionId"]]},
            }
    return payload
