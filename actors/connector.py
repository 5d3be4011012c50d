"""The connector actor: one per connector, the live owner of that connector's state.

It is told every committed event of its station that concerns it (after the commit, so it never
sees anything the log does not hold) and answers questions about its state. Restarted, it rebuilds
from its snapshot and the station stream's tail (``actors.snapshots``), or from the whole stream.
Site load management and Modbus meters will talk to it.

A Modbus reading changes the view without being in the station's stream, so once one has been
folded in, the actor saves no more snapshots (they would hold what a fold of the stream does not).
"""

from __future__ import annotations

import copy
import functools
import sys
from dataclasses import dataclass
from datetime import datetime

from actors import connector_view, installed_profiles
from actors.connector_view import ConnectorView, concerns, fold, fold_modbus_sample
from actors.events import Event, events_of
from actors.events import registry as event_registry
from actors.events import station as station_events
from actors.events.modbus import ModbusReading
from actors.snapshots import StreamSnapshots
from core.actor import Actor, Reply
from core.state_codec import StateCodec
from core.store import EventStore

# Bump when the meaning of a snapshotted field changes without its module's source changing.
VIEW_VERSION = 1


@functools.cache
def view_codec() -> StateCodec[ConnectorView]:
    """How a connector actor's view is snapshotted (``core.state_codec``); one per process, like the
    station's (``actors.station_state.state_codec``): building one costs about a millisecond."""
    modules = (sys.modules[__name__], connector_view, installed_profiles, station_events, event_registry)
    return StateCodec(ConnectorView, (), version=VIEW_VERSION, modules=modules)


@dataclass(frozen=True, slots=True)
class Committed:
    """An event of the station's stream that concerns this connector, committed at ``position``
    and ``time`` in the record with stream sequence ``sequence``."""

    event: Event
    position: int
    time: datetime
    sequence: int


@dataclass(frozen=True, slots=True)
class InspectConnector:
    reply: Reply[ConnectorView]


@dataclass(frozen=True, slots=True)
class ModbusSample:
    """A reading of a Modbus meter tied to this connector (stream ``meter/<id>``), committed at ``time``."""

    reading: ModbusReading
    time: datetime


ConnectorMessage = Committed | InspectConnector | ModbusSample


class ConnectorActor(Actor[ConnectorMessage]):
    def __init__(self, store: EventStore, station_stream: str, connector: int) -> None:
        self.store = store
        self.stream = station_stream
        self.view = ConnectorView(connector)
        self.sequence = 0  # the last sequence of the station's stream folded in
        key = f"actor/{station_stream}/connector/{connector}"
        self.snapshots = StreamSnapshots(store, key, station_stream, view_codec())
        self._metered = False  # a Modbus reading was folded in: the view is no longer the stream's alone

    async def started(self) -> None:
        restored = await self.snapshots.restore()
        if restored is not None:
            self.view, self.sequence = restored
        for record in await self.store.read_stream(self.stream, after=self.sequence):
            for event in events_of(record):
                if concerns(event, self.view.connector):
                    fold(self.view, event, record.position, record.time)
            self.sequence = record.sequence
        await self._snapshot_if_due()

    async def receive(self, message: ConnectorMessage) -> None:
        if isinstance(message, Committed):
            fold(self.view, message.event, message.position, message.time)
            self.sequence = max(self.sequence, message.sequence)
            await self._snapshot_if_due()
        elif isinstance(message, ModbusSample):
            fold_modbus_sample(self.view, message.reading, message.time)
            self._metered = True
        else:
            message.reply.send(copy.deepcopy(self.view))

    async def _snapshot_if_due(self) -> None:
        if not self._metered and self.snapshots.due(self.sequence):
            await self.snapshots.save(self.view, self.sequence)
