"""A log written by the build before the profile and transaction folds were fixed still loads and
folds to the state that build showed (tests/fixtures/live_session_v1.*).

The fixture is a real session against that build: the ocpp package's ChargePoint booted, reported
statuses, had a ChargePointMaxProfile set on connector 0 and a TxDefaultProfile on connector 1, ran
a metered transaction, and had the TxDefaultProfile cleared. The .json beside it is the live state
that build folded (connector 0's profile was dropped then; it is kept now).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actors.connector import ConnectorActor
from adapters.event_io import import_events
from adapters.event_json import to_json
from adapters.stores import open_store
from core.projection import replay
from projections.live import LiveProjection

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "live_session_v1"


def like(old: Any, new: Any) -> Any:
    """``new`` restricted to the keys ``old`` had: fields added since are checked on their own."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: like(old[k], new.get(k)) for k in old}
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [like(o, n) for o, n in zip(old, new, strict=True)]
    return new


async def test_the_old_log_folds_as_it_did() -> None:
    expected = json.loads(FIXTURE.with_suffix(".json").read_text())
    async with open_store("memory://") as store:
        with FIXTURE.with_suffix(".msgpack").open("rb") as source:
            await import_events(store, source)
        state = replay(LiveProjection(), await store.read_all(0, limit=10_000))
        folded = to_json(
            {
                "stations": {k: v.as_dict() for k, v in state.stations.items()},
                "transactions": {str(k): v.as_dict() for k, v in state.transactions.items()},
            }
        )
        assert like(expected, folded) == expected
        station = state.stations["FIX-1"]
        assert [p["chargingProfilePurpose"] for p in station.charging_profiles] == ["ChargePointMaxProfile"]
        assert state.transactions[1].closed_by == "station"  # stops logged before closed_by existed
        rebuilt = ConnectorActor(store, "station/FIX-1", 1)
        await rebuilt.started()
        assert rebuilt.view == station.connectors[1]
