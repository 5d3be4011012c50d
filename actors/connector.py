"""The connector actor: one per connector, the live owner of that connector's state.

It is told every committed event of its station that concerns it (after the commit, so it never
sees anything the log does not hold) and answers questions about its state. Restarted, it rebuilds
from the station's stream. Site load management and Modbus meters will talk to it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from actors.connector_view import ConnectorView, concerns, fold, fold_modbus_sample
from core.actor import Actor, Reply
from core.events import EventRecord
from core.store import EventStore


@dataclass(frozen=True, slots=True)
class Committed:
    """An event of the station's stream that concerns this connector."""

    record: EventRecord


@dataclass(frozen=True, slots=True)
class InspectConnector:
    reply: Reply[ConnectorView]


@dataclass(frozen=True, slots=True)
class ModbusSample:
    """A committed reading of a Modbus meter tied to this connector (stream ``meter/<id>``)."""

    record: EventRecord


ConnectorMessage = Committed | InspectConnector | ModbusSample


class ConnectorActor(Actor[ConnectorMessage]):
    def __init__(self, store: EventStore, station_stream: str, connector: int) -> None:
        self.store = store
        self.stream = station_stream
        self.view = ConnectorView(connector)

    async def started(self) -> None:
        for record in await self.store.read_stream(self.stream):
            if concerns(record, self.view.connector):
                fold(self.view, record)

    async def receive(self, message: ConnectorMessage) -> None:
        if isinstance(message, Committed):
            fold(self.view, message.record)
        elif isinstance(message, ModbusSample):
            fold_modbus_sample(self.view, message.record)
        else:
            message.reply.send(copy.deepcopy(self.view))
