"""The transaction index: every transaction the log holds, as rows in a table of the store.

The live state keeps the running transactions and only the last few finished ones (the bound
``LiveProjection(finished_transactions=...)``), so a log of years does not grow the server's memory;
the operator API reads transactions from this index instead. A row holds what
``projections.live.TransactionView`` shows (the same fold rules: a stop changes a running
transaction only) plus ``start_sequence``, the station-stream sequence of its start, from which its
meter samples are read without scanning the stream from the beginning.

``TransactionIndexRunner`` follows the log like a projection runner, but its state is the table:
each batch of changed rows is written together with the position it reached, in one transaction
(``TransactionIndexStore.apply_transactions``), so after a crash it resumes exactly where its last
write left off and no change is applied twice or lost. Batches that change no row write only
their position, and only every ``position_every`` records, so the index adds no write per commit
to a log that is not starting or stopping transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import trio

from actors.events import TransactionId, events_of
from actors.events.station import TransactionStarted, TransactionStopped
from core.events import EventRecord
from core.follow import CommitSignal
from core.store import EventStore, StoreError
from projections.live import TransactionView

__all__ = [
    "TRANSACTION_FIELDS",
    "TRANSACTION_INDEX",
    "IndexedTransaction",
    "TransactionIndexRunner",
    "TransactionIndexStore",
    "TransactionQuery",
    "listing_key",
]

logger = logging.getLogger("chargeward")

_RETRY_MAX = 5.0  # seconds between tries of an index write that failed, at most

TRANSACTION_INDEX = "transactions"
"""The index's name in the store's position table."""

TRANSACTION_FIELDS = (*TransactionView.__slots__, "start_sequence")
"""The columns of a row, in order."""


@dataclass(slots=True)
class IndexedTransaction:
    """One row: the transaction as the API shows it, and where its start is in the station's stream."""

    view: TransactionView
    start_sequence: int

    def row(self) -> dict[str, Any]:
        view = {name: getattr(self.view, name) for name in TransactionView.__slots__}
        return {**view, "start_sequence": self.start_sequence}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> IndexedTransaction:
        fields = {name: row[name] for name in TransactionView.__slots__}
        return cls(TransactionView(**fields), int(row["start_sequence"]))


def listing_key(transaction_id: TransactionId) -> tuple[int, int | str]:
    """Where a transaction id sorts in the list: OCPP 1.6's integers in numeric order first, then
    2.0.1's strings in code-point order (a station names those, so they have no order of their own)."""
    return (1, transaction_id) if isinstance(transaction_id, str) else (0, transaction_id)


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    """A page of the index in :func:`listing_key` order: the ids after ``after`` (an integer: the
    integers after it, then every string; a string: the strings after it), of ``station`` and
    running (``active``) if given."""

    after: TransactionId | None = None
    station: str | None = None
    active: bool | None = None
    limit: int = 100


@runtime_checkable
class TransactionIndexStore(Protocol):
    """Where the index lives: a table in the event store (rows by transaction id, and a position)."""

    async def transactions_position(self) -> int:
        """The log position the index has folded up to (0: nothing yet)."""
        ...

    async def apply_transactions(self, rows: Sequence[Mapping[str, Any]], position: int) -> None:
        """Insert or replace ``rows`` (by ``transaction_id``) and set the position, atomically."""
        ...

    async def get_transaction(self, transaction_id: TransactionId) -> Mapping[str, Any] | None: ...

    async def find_transactions(self, query: TransactionQuery) -> list[Mapping[str, Any]]:
        """Up to ``query.limit`` rows matching it, in :func:`listing_key` order."""
        ...


def _started(event: TransactionStarted, station_id: str, sequence: int) -> IndexedTransaction:
    view = TransactionView(
        event.transaction_id,
        station_id,
        event.connector,
        event.id_token.id,
        event.timestamp,
        event.meter_start_wh,
        tag_status=event.status,
    )
    return IndexedTransaction(view, sequence)


def _stop(tx: TransactionView, event: TransactionStopped) -> None:
    tx.closed_by = event.closed_by
    tx.stopped = event.timestamp
    tx.meter_stop_wh = event.meter_stop_wh
    tx.energy_wh = event.energy_wh
    tx.stop_reason = event.reason
    tx.stop_id_tag = event.id_token.id if event.id_token is not None else None


class TransactionIndexRunner:
    """Keeps the index in ``index`` up to date with ``store``'s log. Start :meth:`run` in a nursery."""

    def __init__(
        self, store: EventStore, index: TransactionIndexStore, *, position_every: int = 10_000
    ) -> None:
        self._store = store
        self.index = index
        self._position_every = position_every
        self.position = 0
        self.restored_from = 0
        self._written = 0
        self._advanced = CommitSignal()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.position = self.restored_from = self._written = await self.index.transactions_position()
        task_status.started()
        follower = self._store.follow(self.position)
        try:
            while True:
                batch = await follower.next_batch()
                changed = await self._fold(batch)
                position = batch[-1].position
                if changed or position - self._written >= self._position_every:
                    await self._apply([tx.row() for tx in changed.values()], position)
                    self._written = position
                self.position = position
                self._advanced.pulse()
        finally:
            with trio.CancelScope(shield=True):
                if self.position > self._written:  # a clean stop: the next start reads no tail
                    await self.index.apply_transactions([], self.position)

    async def _apply(self, rows: list[dict[str, Any]], position: int) -> None:
        """Write ``rows`` and ``position``; while the store cannot take them, again after a pause (a
        database restart delays the index, it does not stop it and what was started after it)."""
        failures = 0
        while True:
            try:
                await self.index.apply_transactions(rows, position)
                return
            except StoreError as error:
                failures += 1
                if failures == 1:
                    logger.warning("transaction index at %d: %s; trying again", position, error)
                await trio.sleep(min(0.1 * 2**failures, _RETRY_MAX))

    async def wait_for(self, position: int) -> None:
        """Return once every record up to ``position`` is in the index."""
        while self.position < position:
            await self._advanced.current().wait()
        await trio.lowlevel.checkpoint()

    async def _fold(self, batch: list[EventRecord]) -> dict[TransactionId, IndexedTransaction]:
        """The rows ``batch`` changes, folded as ``projections.live`` folds transactions."""
        changed: dict[TransactionId, IndexedTransaction] = {}
        for record in batch:
            kind, _, station_id = record.stream.partition("/")
            if kind != "station":
                continue
            for event in events_of(record):
                if isinstance(event, TransactionStarted):
                    changed[event.transaction_id] = _started(event, station_id, record.sequence)
                elif isinstance(event, TransactionStopped):
                    found = changed.get(event.transaction_id)
                    if found is None:
                        row = await self.index.get_transaction(event.transaction_id)
                        found = IndexedTransaction.from_row(row) if row is not None else None
                    if found is not None and found.view.active:
                        _stop(found.view, event)
                        changed[event.transaction_id] = found
        return changed
