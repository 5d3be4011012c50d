"""What the server intends a station to have (the fold), and how reconciliation re-applies it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from actors.commands import CommandRejected, StationOffline
from actors.desired_state import DesiredState, fold
from actors.events import Event
from actors.events.station import (
    ChargingProfileCleared,
    ChargingProfileSet,
    ConfigurationChanged,
    LocalListSent,
    ReconcileFinished,
    ReconcileStarted,
    ReconcileStep,
)
from actors.installed_profiles import fold as installed_fold
from actors.reconcile import reconcile


def profile(ident: int, purpose: str = "TxDefaultProfile", level: int = 0) -> dict[str, Any]:
    return {"chargingProfileId": ident, "stackLevel": level, "chargingProfilePurpose": purpose}


def folded(*events: Event) -> DesiredState:
    desired = DesiredState()
    for event in events:
        fold(desired, event)
    return desired


def test_profiles_follow_the_station_rules_and_tx_profiles_are_not_intended() -> None:
    desired = folded(
        ChargingProfileSet(connector=0, profile=profile(1, "ChargePointMaxProfile")),
        ChargingProfileSet(connector=1, profile=profile(2)),
        ChargingProfileSet(connector=1, profile=profile(3)),  # same level and purpose: replaces 2
        ChargingProfileSet(connector=2, profile=profile(4, level=1)),
        ChargingProfileSet(connector=1, profile=profile(5, "TxProfile")),
        ChargingProfileSet(connector=2, profile=profile(3, level=2)),  # id 3 moves to connector 2
        ChargingProfileCleared(criteria={"id": 4}),
    )
    ids = [
        (r["connectorId"], r["csChargingProfiles"]["chargingProfileId"])
        for r in desired.set_charging_profiles()
    ]
    assert ids == [(0, 1), (2, 3)]
    assert not folded(
        ChargingProfileSet(connector=1, profile=profile(5, "TxProfile"))
    ).set_charging_profiles()


def test_configuration_keeps_the_last_value_and_the_local_list_its_updates() -> None:
    entry = {"idTag": "A", "idTagInfo": {"status": "Accepted"}}
    desired = folded(
        ConfigurationChanged(key="HeartbeatInterval", value="60", status="Accepted"),
        ConfigurationChanged(key="HeartbeatInterval", value="90", status="RebootRequired"),
        LocalListSent(version=1, update_type="Full", entries=[entry, {**entry, "idTag": "B"}]),
        LocalListSent(
            version=2, update_type="Differential", entries=[{"idTag": "A"}, {**entry, "idTag": "C"}]
        ),
    )
    assert desired.configuration == {"HeartbeatInterval": "90"}
    request = desired.send_local_list()
    assert request is not None and (request["listVersion"], request["updateType"]) == (2, "Full")
    assert [e["idTag"] for e in request["localAuthorizationList"]] == ["B", "C"]
    assert DesiredState().empty and DesiredState().send_local_list() is None and not desired.empty


class Station:
    """A scripted station behind the command path: replies by action, or an error to raise."""

    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.sent: list[str] = []
        self.events: list[Event] = []

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(action)
        reply = self.replies[action]
        if isinstance(reply, Exception):
            raise reply
        return dict(reply)

    async def record(self, events: list[Event]) -> None:
        self.events.extend(events)

    def steps(self) -> list[tuple[str, str, str]]:
        return [(e.kind, e.target, e.outcome) for e in self.events if isinstance(e, ReconcileStep)]


INTENDED = folded(
    ChargingProfileSet(connector=1, profile=profile(2)),
    ConfigurationChanged(key="HeartbeatInterval", value="60", status="Accepted"),
    LocalListSent(
        version=3, update_type="Full", entries=[{"idTag": "A", "idTagInfo": {"status": "Accepted"}}]
    ),
)


async def test_in_sync_keys_and_list_are_left_alone() -> None:
    station = Station(
        {
            "SetChargingProfile": {"status": "Accepted"},
            "GetConfiguration": {"configurationKey": [{"key": "HeartbeatInterval", "value": "60"}]},
            "GetLocalListVersion": {"listVersion": 3},
        }
    )
    await reconcile(INTENDED, "boot", station.call, station.record)
    assert station.sent == ["SetChargingProfile", "GetConfiguration", "GetLocalListVersion"]
    assert station.steps() == [
        ("profile", "2", "applied"),
        ("configuration", "HeartbeatInterval", "in_sync"),
        ("local_list", "3", "in_sync"),
    ]
    assert station.events[0] == ReconcileStarted(trigger="boot")
    assert station.events[-1] == ReconcileFinished(outcome="done", applied=1, failed=0)


async def test_a_failed_step_is_recorded_and_the_others_still_run() -> None:
    station = Station(
        {
            "SetChargingProfile": {"status": "Rejected"},
            "GetConfiguration": CommandRejected("NotSupported", "no", {}),
            "GetLocalListVersion": {"listVersion": 1},
            "SendLocalList": {"status": "Accepted"},
        }
    )
    await reconcile(INTENDED, "reconnect", station.call, station.record)
    assert station.steps() == [
        ("profile", "2", "rejected"),
        ("configuration", "HeartbeatInterval", "failed"),
        ("local_list", "3", "applied"),
    ]
    assert station.events[-1] == ReconcileFinished(outcome="failed", applied=1, failed=2)


async def test_an_offline_station_stops_the_rest() -> None:
    station = Station({"SetChargingProfile": StationOffline("gone")})
    await reconcile(INTENDED, "boot", station.call, station.record)
    assert station.sent == ["SetChargingProfile"]
    assert station.steps() == [("profile", "2", "failed")]
    assert station.events[-1] == ReconcileFinished(outcome="failed", applied=0, failed=1)


_PURPOSES = st.sampled_from(["TxDefaultProfile", "ChargePointMaxProfile", "TxProfile"])
_SET = st.builds(
    lambda connector, ident, level, purpose: ChargingProfileSet(
        connector=connector, profile=profile(ident, purpose, level)
    ),
    st.integers(0, 2),
    st.integers(1, 4),
    st.integers(0, 2),
    _PURPOSES,
)
_CLEAR = st.builds(
    lambda criteria: ChargingProfileCleared(criteria={k: v for k, v in criteria.items() if v is not None}),
    st.fixed_dictionaries(
        {
            "id": st.none() | st.integers(1, 4),
            "connectorId": st.none() | st.integers(0, 2),
            "stackLevel": st.none() | st.integers(0, 2),
            "chargingProfilePurpose": st.none() | _PURPOSES,
        }
    ),
)


@given(st.lists(_SET | _CLEAR, max_size=12))
def test_the_intent_is_the_record_without_tx_profiles(events: list[Event]) -> None:
    """Without TxProfiles, what reconciliation re-sends is exactly what the record says is installed."""
    events = [
        e
        for e in events
        if not (isinstance(e, ChargingProfileSet) and e.profile["chargingProfilePurpose"] == "TxProfile")
    ]
    record: dict[int, list[dict[str, Any]]] = {n: [] for n in range(3)}
    for event in events:
        for connector in record:
            after = installed_fold(record[connector], connector, event)
            if after is not None:
                record[connector] = after
    intended = folded(*events).set_charging_profiles()
    assert intended == [
        {"connectorId": n, "csChargingProfiles": p} for n in sorted(record) for p in record[n]
    ]
