"""Handlers for station-initiated actions, registered on the fleet as plain callables.

Any number per action, not methods of one class (the ``ocpp`` package's way). A handler gets an
:class:`IncomingCall` after validation and returns either a response payload, which answers the
station, or None to let the next handler (and finally chargeward's built-in rule) decide. Handlers
may be plain functions or coroutines. One that raises makes that one call a CALLERROR
InternalError; the station stays connected. Observers that only want to know what happened should
follow the event log instead: handlers run before the commit.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

HandlerResult = Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A validated (and, if lenient, repaired) CALL from a station."""

    station_id: str
    action: str
    payload: Mapping[str, Any]
    connection: int
    ocpp_version: str = "1.6"  # of the connection: the payload is that version's (camelCase, as sent)


Handler = Callable[[IncomingCall], HandlerResult | Awaitable[HandlerResult]]


class Handlers:
    """The registry: action -> handlers in registration order."""

    def __init__(self) -> None:
        self._by_action: dict[str, tuple[Handler, ...]] = {}

    def on(self, action: str, handler: Handler) -> Callable[[], None]:
        """Register ``handler`` for ``action``; returns a function that unregisters it."""
        self._by_action[action] = (*self._by_action.get(action, ()), handler)

        def remove() -> None:
            self._by_action[action] = tuple(h for h in self._by_action.get(action, ()) if h is not handler)

        return remove

    def __contains__(self, action: str) -> bool:
        return bool(self._by_action.get(action))

    async def consult(self, call: IncomingCall) -> dict[str, Any] | None:
        """The first non-None answer of the handlers for ``call.action``, or None."""
        for handler in self._by_action.get(call.action, ()):
            result = handler(call)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                return dict(result)
        return None
