"""Event-store backends, one module per backend, picked by URL scheme through ``BACKENDS``.

A backend module exposes ``open_log(url, poll_interval) -> RecordedLog`` (blocking): ``memory://``,
``sqlite:`` and ``postgresql://`` (``adapters.stores.postgres``, over ``eventsourcing.postgres``).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import cast
from urllib.parse import urlsplit

import trio

from adapters.stores.recorded import RecordedStore
from adapters.stores.recording import RecordedLog
from core.store import BadStoreUrl, EventStore

__all__ = ["BACKENDS", "open_backend_store", "open_store"]

BACKENDS: dict[str, str] = {
    "memory": "adapters.stores.memory",
    "postgres": "adapters.stores.postgres",
    "postgresql": "adapters.stores.postgres",
    "sqlite": "adapters.stores.sqlite",
}


def _opener(url: str) -> Callable[[str, float], RecordedLog]:
    scheme = urlsplit(url).scheme if isinstance(url, str) else ""
    if scheme not in BACKENDS:
        raise ValueError(f"no event-store backend for {url!r} (known schemes: {', '.join(sorted(BACKENDS))})")
    module = importlib.import_module(BACKENDS[scheme])
    return cast(Callable[[str, float], RecordedLog], module.open_log)


@asynccontextmanager
async def open_backend_store(
    url: str, *, max_batch: int, max_delay: float, poll_interval: float
) -> AsyncIterator[EventStore]:
    """Open the log, run its writer for the lifetime of the block, then drain and close it."""
    if poll_interval <= 0:
        raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
    try:
        opener = _opener(url)
        log = await trio.to_thread.run_sync(opener, url, poll_interval)
    except BadStoreUrl:
        raise
    except ValueError as e:  # the backends' URL parsers: StoreError too, so callers report it plainly
        raise BadStoreUrl(str(e)) from e
    body_error: BaseException | None = None
    try:
        if log.committer is not None:
            await log.committer.start()  # a database it cannot open fails here, not at the first append
        store = RecordedStore(log, max_batch=max_batch, max_delay=max_delay)
        async with trio.open_nursery() as nursery:
            await nursery.start(store.writer.run)
            try:
                yield store
            except BaseException as e:
                # Re-raised below, outside the nursery, so the caller's own exception reaches it as
                # itself rather than wrapped in an ExceptionGroup. The writer still drains first.
                body_error = e
            finally:
                store.writer.close()
    finally:
        with trio.CancelScope(shield=True):  # a cancelled caller still releases the database
            if log.committer is not None:
                await log.committer.aclose()
            await trio.to_thread.run_sync(log.close)
    if body_error is not None:
        raise body_error


def open_store(
    url: str,
    *,
    max_batch: int = 1000,
    max_delay: float = 0.0,
    poll_interval: float = 0.1,
) -> AbstractAsyncContextManager[EventStore]:
    """Open the store named by ``url`` (``memory://``, ``sqlite:///abs/path.db``, ``sqlite:rel.db``,
    ``postgresql://USER@HOST:PORT/DATABASE``).

    The backend comes from the URL scheme through :data:`BACKENDS`. ``max_batch`` and ``max_delay``
    tune the group commit of the batching writer (``max_delay`` defaults to 0: appends that arrive
    while a commit runs share the next one anyway, and waiting only adds latency; see
    bench/store_micro.py); ``poll_interval`` is how often a follower looks for commits made by other
    processes (backends that see every commit in-process, like ``memory://``, do not poll).
    """
    return open_backend_store(url, max_batch=max_batch, max_delay=max_delay, poll_interval=poll_interval)
