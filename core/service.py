"""A long-running trio function (a listener, a projection runner) as a supervised child.

Supervisors run actors: ``run(inbox)``. Servers and followers are written the trio way instead,
``async def serve(*, task_status)`` reporting readiness (often a port) through ``task_status``.
:class:`Service` adapts one to the other, so the composition root can put them in its supervision
tree, and lets the root wait for a child to be ready before it starts the next (start order
matters: the OCPP port must not open before the live projection has folded the log).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from core.mailbox import Mailbox


class Service:
    """Runs ``start`` in each incarnation; ``on_started`` hears what each one reported at start-up."""

    def __init__(
        self, start: Callable[..., Awaitable[Any]], on_started: Callable[[Any], None] | None = None
    ) -> None:
        self._start = start
        self._on_started = on_started
        self._ready = trio.Event()

    async def run(self, inbox: Mailbox[Any]) -> None:
        async with trio.open_nursery() as nursery:
            value = await nursery.start(self._start)
            if self._on_started is not None:
                self._on_started(value)
            self._ready.set()

    async def wait_started(self) -> None:
        """Return once the first incarnation has reported that it is ready."""
        await self._ready.wait()
