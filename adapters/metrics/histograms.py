"""The real histograms, fed by observer hooks as things happen (not read on scrape).

OCPP latency comes from ``OcppStats.round_trip_observers`` (CSMS-initiated calls: sent to reply
received) and ``OcppStats.handling_observers`` (station-initiated calls: received to reply sent).
Commit latency and batch size come from the batching writer's ``on_commit`` hook. Bound children
are cached per label pair: a ``.labels()`` lookup costs more than the ``observe`` itself
(bench/results/README.md).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from adapters.metrics.catalog import BY_NAME
from adapters.metrics.snapshot import action_label

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def _histogram(name: str, registry: CollectorRegistry, buckets: tuple[float, ...]) -> Histogram:
    spec = BY_NAME[name]
    return Histogram(spec.name, spec.help, spec.labels, registry=registry, buckets=buckets)


class Histograms:
    """The histograms of one registry and the observer callables that feed them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._latency = _histogram("chargeward_ocpp_latency_seconds", registry, LATENCY_BUCKETS)
        self._commit = _histogram("chargeward_store_commit_seconds", registry, COMMIT_BUCKETS)
        self._batch = _histogram("chargeward_store_batch_events", registry, BATCH_BUCKETS)
        self._modbus_poll = _histogram("chargeward_modbus_poll_seconds", registry, LATENCY_BUCKETS)
        self._children: dict[tuple[str, str], Histogram] = {}

    def _child(self, action: str, direction: str) -> Histogram:
        key = (action_label(action), direction)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._latency.labels(*key)
        return child

    def round_trip(self, action: str, seconds: float) -> None:
        """A CSMS-initiated call's round trip (a ``RoundTripObserver``)."""
        self._child(action, "csms").observe(seconds)

    def handling(self, action: str, seconds: float) -> None:
        """A station-initiated call's server-side handling time."""
        self._child(action, "station").observe(seconds)

    def modbus_poll(self, device: str, seconds: float) -> None:
        """One Modbus poll (a ``ModbusStats`` poll-latency observer); no device label, see the catalog."""
        self._modbus_poll.observe(seconds)

    def commit(self, events: int, seconds: float) -> None:
        """One group commit (the writer's ``on_commit`` signature)."""
        self._commit.observe(seconds)
        self._batch.observe(events)
