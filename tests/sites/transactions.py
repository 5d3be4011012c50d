"""A transaction starting and stopping on a connector, as the site tests feed them to a site's view
or store: the fields a site reads (transaction, connector) and fixed values for the rest."""

from __future__ import annotations

from actors.events.refs import IdToken
from actors.events.station import TransactionStarted, TransactionStopped


def started(transaction: int, connector: int = 1) -> TransactionStarted:
    return TransactionStarted(
        transaction_id=transaction,
        connector=connector,
        id_token=IdToken("TAG"),
        meter_start_wh=0.0,
        timestamp="2026-11-27T08:00:00Z",
        reservation_id=None,
        status="Accepted",
        expiry=None,
        parent=None,
    )


def stopped(transaction: int, connector: int = 1) -> TransactionStopped:
    return TransactionStopped(
        transaction_id=transaction,
        connector=connector,
        known=True,
        id_token=None,
        start_id_token=None,
        meter_stop_wh=1000.0,
        energy_wh=1000.0,
        timestamp="2026-11-27T09:00:00Z",
        reason="Local",
        closed_by="station",
    )
