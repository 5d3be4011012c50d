"""A restarted upstream link folds its snapshot plus the stream's tail, and ends where a fold of the
whole ``upstream/<id>`` stream does, wherever the snapshots were taken (hypothesis, on SQLite)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

import actors.snapshots
from actors.events import Event, events_of
from actors.events.upstream import (
    TransactionIdMapped,
    UpstreamAnswered,
    UpstreamConnected,
    UpstreamCursor,
    UpstreamDisconnected,
)
from actors.ocpp.versions import V16
from actors.upstream.backlog import LinkLog
from actors.upstream.link import LinkSettings, UpstreamLink, UpstreamStats
from adapters.stores import open_store
from core.clock import VirtualClock
from core.store import EventStore

seqs = st.integers(1, 60)
link_events = st.one_of(
    st.builds(
        lambda seq, via: UpstreamAnswered(
            seq=seq, action="MeterValues", unique_id=f"u{seq}", via=via, outcome="result", response={}
        ),
        seqs,
        st.sampled_from(["live", "catch-up"]),
    ),
    st.builds(lambda seq: UpstreamCursor(seq=seq), seqs),
    st.builds(
        lambda local, up: TransactionIdMapped(local=local, upstream=up),
        st.integers(1, 9),
        st.integers(100, 109),
    ),
    st.just(UpstreamConnected(url="ws://up/ocpp/CP", subprotocol="ocpp1.6")),
    st.just(UpstreamDisconnected(reason="gone")),
)


def link(store: EventStore) -> UpstreamLink:
    async def no_call(station: str, command: object) -> dict[str, object]:
        raise AssertionError("no command in this test")

    clock = VirtualClock(datetime(2026, 11, 27, 8, tzinfo=UTC))
    return UpstreamLink("CP", V16, None, store, clock, no_call, LinkSettings(), UpstreamStats())  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(
    batches=st.lists(st.lists(link_events, min_size=1, max_size=4), min_size=1, max_size=20),
    every=st.integers(1, 6),
)
def test_a_restart_from_the_snapshot_equals_the_whole_fold(batches: list[list[Event]], every: int) -> None:

    async def scenario(directory: str) -> None:
        async with open_store(f"sqlite:///{Path(directory) / 'events.db'}") as store:
            first = link(store)
            await first.started()
            async with trio.open_nursery() as nursery:
                first._nursery = nursery
                for batch in batches:
                    await first._append(batch)
            whole = LinkLog()
            for record in await store.read_stream("upstream/CP"):
                for event in events_of(record):
                    whole.apply(event, record.sequence)
            whole.connected = False
            again = link(store)
            await again.started()
            assert again.log == whole and again.committed == whole
            if whole.version >= every:
                assert again.snapshots.sequence > 0  # it did start from a snapshot

    with tempfile.TemporaryDirectory() as directory, patch.object(actors.snapshots, "SNAPSHOT_EVERY", every):
        trio.run(scenario, directory)
