"""The connector actor: one per connector, the live owner of that connector's state.

It is told every committed event of its station that concerns it (after the commit, so it never
sees anything the log does not hold) and answers questions about its state. Restarted, it rebuilds
from the station's stream. Site load management and Modbus meters will talk to it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

from actors.connector_view import ConnectorView, concerns, fold, fold_modbus_sample
from actors.events import Event, events_of
from actors.events.modbus import ModbusReading
from core.actor import Actor, Reply
from core.store import EventStore


@dataclass(frozen=True, slots=True)
class Committed:
    """An event of the station's stream that concerns this connector, committed at ``position``
    and ``time``."""

    event: Event
    position: int
    time: datetime


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

    async def started(self) -> None:
        for record in await self.store.read_stream(self.stream):
            for event in events_of(record):
                if concerns(event, self.view.connector):
                    fold(self.view, event, record.position, record.time)

    async def receive(self, message: ConnectorMessage) -> None:
        if isinstance(message, Committed):
            fold(self.view, message.event, message.position, message.time)
        elif isinstance(message, ModbusSample):
            fold_modbus_sample(self.view, message.reading, message.time)
        else:
            message.reply.send(copy.deepcopy(self.view))
