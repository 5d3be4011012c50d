"""Typed events: every registered class round-trips through the store's codec; old shapes upcast;
data that does not fit says where; unknown types fold as nothing."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events import (
    Event,
    EventDataError,
    IdToken,
    UnknownEvent,
    decode,
    encode,
    events_of,
    new_events,
    registered,
)
from actors.events.station import Authorized, TransactionStarted, TransactionStopped
from actors.station_state import StationState
from adapters.stores import open_store
from core.codec import pack, unpack
from core.events import EventRecord
from projections.live import LiveProjection

_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text() | st.floats(allow_nan=False)
)
_JSONISH = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    if isinstance(hint, type(int | None)) or typing.get_origin(hint) is typing.Union:
        return st.one_of(*(_strategy(arg) for arg in typing.get_args(hint)))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return st.none()
    if hint is IdToken:
        return st.builds(IdToken, st.text(), st.none() | st.text())
    if hint is Any:
        return _JSONISH
    if origin is list:
        return st.lists(_strategy(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(), _strategy(args[1]), max_size=3)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        int: st.integers(-(2**63), 2**63 - 1),
        float: st.floats(allow_nan=False),
        str: st.text(),
        bool: st.booleans(),
        bytes: st.binary(),
    }
    return simple[hint]


def _events() -> st.SearchStrategy[Event]:
    def of(cls: type[Event]) -> st.SearchStrategy[Event]:
        hints = typing.get_type_hints(cls)
        return st.builds(cls, **{f.name: _strategy(hints[f.name]) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]

    return st.one_of(*(of(cls) for cls in registered().values()))


@settings(max_examples=400)
@given(_events())
def test_every_event_round_trips_through_the_codec(event: Event) -> None:
    type_name, data = encode(event)
    assert type_name == type(event).TYPE
    assert decode(type_name, unpack(pack(data))) == event


def test_every_stored_name_of_the_build_before_is_registered() -> None:
    # The names chargeward wrote before events were typed (eedca34): each still has its class.
    before = {
        "FrameReceived", "FrameSent", "StationConnected", "StationDisconnected", "StationFailed",
        "StationBooted", "ConnectorStatusChanged", "Authorized", "TransactionStarted", "MeterSampled",
        "TransactionStopped", "TransactionStopRepeated", "DataTransferred", "DiagnosticsStatusChanged",
        "FirmwareStatusChanged", "CommandCompleted", "ConfigurationReported", "ConfigurationChanged",
        "ReservationMade", "ReservationCancelled", "ChargingProfileSet", "ChargingProfileCleared",
        "TransactionIdsReserved", "ModbusReading", "ModbusPollFailed", "ModbusDeviceStale",
        "ModbusDeviceRecovered", "EvseControlRequested", "EvseControlWritten", "EvseControlReadBack",
        "EvseControlVerified", "EvseControlMismatched", "EvseControlFailed",
    }  # fmt: skip
    assert before <= set(registered())


def test_version_1_shapes_upcast() -> None:
    stopped = decode(
        "TransactionStopped",
        {
            "transaction_id": 7,
            "connector": 1,
            "known": True,
            "id_tag": None,
            "start_id_tag": "TAG-1",
            "meter_stop_wh": 3000.0,
            "energy_wh": 2000.0,
            "timestamp": "2026-11-21T10:05:00Z",
            "reason": "Local",
        },
    )
    assert isinstance(stopped, TransactionStopped)
    assert (stopped.id_token, stopped.start_id_token, stopped.closed_by) == (
        None,
        IdToken("TAG-1"),
        "station",
    )
    assert stopped.evse is None
    authorized = decode("Authorized", {"id_tag": "T", "status": "Accepted", "expiry": None, "parent": "P"})
    assert authorized == Authorized(
        id_token=IdToken("T"), status="Accepted", expiry=None, parent=IdToken("P")
    )
    # and the current version is written with its number and read back as it is
    type_name, data = encode(stopped)
    assert (
        data["v"] == 2
        and data["id_token"] is None
        and data["start_id_token"] == {"id": "TAG-1", "type": None}
    )
    assert decode(type_name, data) == stopped


def _record(type_name: str, data: dict[str, Any]) -> EventRecord:
    return EventRecord("station/CP-1", 3, 41, type_name, datetime(2026, 11, 21, tzinfo=UTC), data)


def test_data_that_does_not_fit_names_position_and_field() -> None:
    started = {
        "v": 2,
        "transaction_id": 1,
        "connector": 1,
        "id_token": {"id": "T", "type": None},
        "meter_start_wh": 1000.0,
        "timestamp": "t",
        "reservation_id": None,
        "status": "Accepted",
        "expiry": None,
        "parent": None,
    }
    assert isinstance(events_of(_record("TransactionStarted", started))[0], TransactionStarted)
    cases = [
        ({**started, "connector": "one"}, "connector", "must be int"),
        ({k: v for k, v in started.items() if k != "timestamp"}, "timestamp", "is missing"),
        ({**started, "id_token": "T"}, "id_token", "expected an id token"),
        ({**started, "meter_start_wh": None}, "meter_start_wh", "is None"),
        ({**started, "v": 3}, "v", "newer than this build's 2"),
    ]
    for data, field, says in cases:
        with pytest.raises(EventDataError) as raised:
            events_of(_record("TransactionStarted", data))
        assert raised.value.field == field
        message = str(raised.value)
        assert "position 41" in message and "station/CP-1 #3" in message and says in message, message
        assert field == "v" or repr(field) in message


def test_an_unknown_type_decodes_to_an_unknown_event_and_encodes_back() -> None:
    (event,) = events_of(_record("SomethingNewer", {"x": 1}))
    assert event == UnknownEvent("SomethingNewer", {"x": 1})
    assert encode(event) == ("SomethingNewer", {"x": 1})


async def test_records_committed_here_carry_their_events_and_read_back_equal() -> None:
    """``events_of`` hands this process's own records their appended events, not a second decode."""
    events = [Authorized(id_token=IdToken("TAG", None), status="Accepted", expiry=None, parent=None)]
    async with open_store("memory://") as store:
        [committed] = await store.append(new_events("station/CP-1", events, datetime.now(UTC)))
        assert events_of(committed)[0] is events[0]
        [read_back] = await store.read_stream("station/CP-1")
        assert read_back == committed and read_back.decoded is None
        assert events_of(read_back) == tuple(events)


def test_folds_skip_a_type_they_do_not_know() -> None:
    """A log from a newer build (or with a retired type) still folds: the unknown record changes
    nothing but the position it was read at."""
    state = StationState()
    unknown = _record("SomethingNewer", {"connector": 1, "status": "Charging"})
    assert state.apply(unknown) == (UnknownEvent("SomethingNewer", unknown.data),)
    assert (state.version, state.connectors, state.connector_status) == (3, set(), {})
    live = LiveProjection().fold(LiveProjection().initial(), unknown)
    assert live.position == 41 and live.stations["CP-1"].connectors == {}
