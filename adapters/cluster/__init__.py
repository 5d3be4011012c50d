"""Several chargeward nodes sharing one PostgreSQL store: leases, fencing, heartbeat, calls.

:func:`cluster_node` builds the node for ``[node]`` (``serve --node NAME``); ``adapters.csms`` runs it.
See ``adapters.cluster.node`` for how it works and ``adapters.cluster.tables`` for the tables.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from actors.fleet import Fleet
from adapters.cluster.node import ClusterNode, NodeStats
from adapters.cluster.tables import ClusterTables, NodeNameTaken, NodeRow
from adapters.config import ConfigError, NodeOptions
from adapters.stores.postgres import postgres_target
from adapters.stores.postgres_recorder import PostgresStreamRecorder
from adapters.stores.recorded import RecordedStore
from core.clock import Clock
from core.projection import ProjectionRunner
from core.store import EventStore
from projections.live import LiveState

__all__ = ["ClusterNode", "NodeNameTaken", "NodeRow", "NodeStats", "check_node_store", "cluster_node"]


def check_node_store(options: NodeOptions, url: str) -> None:
    """``ConfigError`` unless ``url`` names a store several nodes can share (PostgreSQL)."""
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            "configuration",
            "node.name",
            f"several nodes share a postgresql:// store; node {options.name!r} was given {url.split('?')[0]}",
        )


def cluster_node(
    options: NodeOptions,
    store: EventStore,
    url: str,
    fleet: Fleet,
    live: ProjectionRunner[LiveState],
    clock: Clock,
) -> ClusterNode:
    """The node named by ``options`` on ``store``, opened from ``url`` (see :func:`check_node_store`);
    ``live`` is the live projection it closes orphaned stations' connections against."""
    assert options.name is not None
    recorder = store.log.recorder if isinstance(store, RecordedStore) else None
    assert isinstance(store, RecordedStore) and isinstance(recorder, PostgresStreamRecorder)
    return ClusterNode(
        options.name,
        store=store,
        target=postgres_target(url),
        tables=ClusterTables(recorder.datastore, options.lease_seconds),
        fleet=fleet,
        lease_seconds=options.lease_seconds,
        live=live,
        clock=clock,
    )
