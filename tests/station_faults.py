"""Injected station-actor faults for supervision tests: a station actor with a bug on one frame kind."""

from __future__ import annotations

from actors.fleet import StationActorFactory
from actors.station import FrameIn, LineSlot, StationActor, StationDeps, StationMessage


class InjectedFault(Exception):
    """The bug the test put there."""


def crashes_on(station_id: str, action: str) -> StationActorFactory:
    """Station actors as usual, except that ``station_id``'s raises on every ``action`` frame."""
    marker = f'"{action}"'

    class Faulty(StationActor):
        async def receive(self, message: StationMessage) -> None:
            if isinstance(message, FrameIn) and marker in message.text:
                raise InjectedFault(f"{self.station_id}: injected fault on {action}")
            await super().receive(message)

    def make(sid: str, deps: StationDeps, slot: LineSlot) -> StationActor:
        return Faulty(sid, deps, slot) if sid == station_id else StationActor(sid, deps, slot)

    return make
