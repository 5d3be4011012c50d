"""One exporter per running Csms: its own registry, the snapshot collector and the histograms.

:func:`attach_metrics` hooks the histograms into the fleet's observers and the store's commit
hook; call it right after ``open_csms`` so no observation is missed (``render_metrics`` attaches
with the default options on first use otherwise). :func:`render_metrics` is what the HTTP API
serves at GET /metrics: it takes a snapshot on the trio thread and renders it with
``generate_latest`` in a worker thread, one scrape at a time per Csms.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import trio
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest

from adapters.config import ConfigError
from adapters.metrics.collector import SnapshotCollector
from adapters.metrics.histograms import Histograms
from adapters.metrics.snapshot import Sources, take
from core.writer import BatchingWriter

if TYPE_CHECKING:
    from adapters.csms import Csms

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


@dataclass(frozen=True, slots=True)
class MetricsOptions:
    """The ``[metrics]`` table of the config file.

    ``per_connector = false`` drops every series labelled by station (station_connected,
    connector_status, connector_power_watts, connector_energy_watt_hours) for fleets too big for
    one series per connector; the fleet-wide sums stay. ``max_vendors`` and ``max_repair_series``
    cap the repair counter's labels.
    """

    per_connector: bool = True
    max_vendors: int = 20
    max_repair_series: int = 200


def parse_metrics_options(
    table: Mapping[str, Any], source: str, base: MetricsOptions | None = None
) -> MetricsOptions:
    """Check a parsed ``[metrics]`` TOML table over ``base``; a mistake is a ConfigError naming the key."""
    known: dict[str, type] = {"per_connector": bool, "max_vendors": int, "max_repair_series": int}
    values: dict[str, Any] = {}
    for key, value in table.items():
        kind = known.get(key)
        if kind is None:
            raise ConfigError(source, f"metrics.{key}", "unknown key (check the spelling)")
        if type(value) is not kind:
            raise ConfigError(source, f"metrics.{key}", f"must be {kind.__name__}, got {value!r}")
        if isinstance(value, int) and kind is int and value < 1:
            raise ConfigError(source, f"metrics.{key}", f"must be >= 1, got {value!r}")
        values[key] = value
    return replace(base or MetricsOptions(), **values)


class CsmsMetrics:
    """The exporter of one Csms; get it from :func:`attach_metrics`."""

    def __init__(self, csms: Csms, options: MetricsOptions) -> None:
        self.csms = csms
        self.options = options
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = SnapshotCollector()
        self.registry.register(self.collector)
        self.histograms = Histograms(self.registry)
        self._lock = trio.Lock()
        stats = csms.fleet.stats
        stats.round_trip_observers.append(self.histograms.round_trip)
        stats.handling_observers.append(self.histograms.handling)
        csms.modbus_stats.poll_latency_observers.append(self.histograms.modbus_poll)
        self._writer = getattr(csms.store, "writer", None)
        if isinstance(self._writer, BatchingWriter):
            previous = self._writer.on_commit

            def on_commit(events: int, seconds: float) -> None:
                self.histograms.commit(events, seconds)
                if previous is not None:
                    previous(events, seconds)

            self._writer.on_commit = on_commit

    async def render(self) -> bytes:
        """The exposition text; never blocks the trio loop for the rendering itself."""
        async with self._lock:
            head = await self.csms.store.head()
            writer = self._writer.stats if isinstance(self._writer, BatchingWriter) else None
            self.collector.snapshot = await take(
                Sources(
                    self.csms.fleet.stats,
                    self.csms.runtime.stats,
                    writer,
                    self.csms.live.state,
                    self.csms.modbus,
                    self.csms.cluster,
                    refusals=self.csms.gate.refusals,
                    sites=tuple((site, self.csms.site_stats[site.id]) for site in self.csms.config.sites),
                    upstream=self.csms.upstream.stats if self.csms.upstream is not None else None,
                    now=self.csms.runtime.clock.wall(),
                ),
                head=head,
                live_position=self.csms.live.position,
                live_checkpoint=self.csms.live.checkpoint_position,
                per_connector=self.options.per_connector,
                max_vendors=self.options.max_vendors,
                max_repair_series=self.options.max_repair_series,
            )
            return await trio.to_thread.run_sync(generate_latest, self.registry)


_exporters: weakref.WeakKeyDictionary[Csms, CsmsMetrics] = weakref.WeakKeyDictionary()


def attach_metrics(csms: Csms, options: MetricsOptions | None = None) -> CsmsMetrics:
    """The exporter of ``csms``, created (and hooked in) on the first call."""
    exporter = _exporters.get(csms)
    if exporter is None:
        exporter = _exporters[csms] = CsmsMetrics(csms, options or MetricsOptions())
    elif options is not None and options != exporter.options:
        raise ValueError(f"metrics already attached with {exporter.options}, cannot switch to {options}")
    return exporter


async def render_metrics(csms: Csms) -> tuple[bytes, str]:
    """GET /metrics: (body, content type) in the Prometheus text format 0.0.4."""
    return await attach_metrics(csms).render(), CONTENT_TYPE
