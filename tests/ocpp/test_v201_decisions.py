"""The 2.0.1 dialect's decisions as pure functions: any schema-valid station call is answered validly and
decides storable events; a transaction's seqNos are recorded once each, with every gap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.events import Event, decode, encode
from actors.events.station import (
    TransactionEventGap,
    TransactionEventReported,
    TransactionStarted,
    TransactionStopped,
)
from actors.frame_decisions import checked_response
from actors.ocpp import Direction
from actors.ocpp.v201.actions import STATION_INITIATED_201
from actors.ocpp.validation import compiled
from actors.ocpp.versions import V201
from actors.policy import FleetPolicy, IdTag
from actors.station_state import StationState
from core.codec import pack, unpack
from tests.ocpp.schema_strategies import payloads

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
POLICY = FleetPolicy(id_tags={"TAG-OK": IdTag(parent="GROUP")})
# DataTransfer's ``data`` has no type at all, which the strategies cannot draw.
ACTIONS = sorted(STATION_INITIATED_201 - {"DataTransfer"})


def _schema(action: str) -> dict[str, Any]:
    found = compiled("2.0.1", action, Direction.REQUEST)
    assert found is not None
    return found.schema


def _stored(event: Event) -> Event:
    type_name, data = encode(event)
    return decode(type_name, unpack(pack(data)))


def _decide(action: str, request: dict[str, Any], state: StationState) -> list[Event]:
    response = V201.builtin_response(action, request, station_id="CP", state=state, policy=POLICY, now=NOW)
    response = checked_response(V201, action, response)
    events = V201.domain_events(action, request, response, state)
    for event in events:
        assert _stored(event) == event
        state.fold(event)
    return events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ACTIONS).flatmap(lambda a: st.tuples(st.just(a), payloads(_schema(a), quirky=False))))
def test_every_valid_201_call_is_answered_validly_and_decides_storable_events(
    drawn: tuple[str, dict[str, Any]],
) -> None:
    action, request = drawn
    state = StationState()
    _decide(action, request, state)
    _decide(action, request, state)  # the same again (a retransmission) decides without failing too


def _transaction_event(seq_no: int, kind: str, energy: float | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "eventType": kind,
        "timestamp": "2026-11-27T08:00:00Z",
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": "T-1"},
        "evse": {"id": 2, "connectorId": 1},
    }
    if energy is not None:
        sampled = {"value": energy, "measurand": "Energy.Active.Import.Register"}
        request["meterValue"] = [{"timestamp": "2026-11-27T08:00:00Z", "sampledValue": [sampled]}]
    return request


@settings(max_examples=200, deadline=None)
@given(
    seq_nos=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=25),
    end_at=st.integers(min_value=1, max_value=30),
)
def test_each_seq_no_is_recorded_once_and_every_gap_is_recorded(seq_nos: list[int], end_at: int) -> None:
    state = StationState()
    decided: list[Event] = []
    for i, seq_no in enumerate(seq_nos):
        kind = "Started" if i == 0 else "Ended" if i == end_at else "Updated"
        decided += _decide("TransactionEvent", _transaction_event(seq_no, kind, energy=100.0 * i), state)
    reported = [e.seq_no for e in decided if isinstance(e, TransactionEventReported)]
    assert reported == list(dict.fromkeys(seq_nos)), "first appearance of each seqNo, once"
    gaps = [(e.expected, e.received) for e in decided if isinstance(e, TransactionEventGap)]
    expected_gaps, highest = [], -1
    for seq_no in dict.fromkeys(seq_nos):
        if seq_no > highest + 1:
            expected_gaps.append((highest + 1, seq_no))
        highest = max(highest, seq_no)
    assert gaps == expected_gaps
    starts = [e for e in decided if isinstance(e, TransactionStarted)]
    stops = [e for e in decided if isinstance(e, TransactionStopped)]
    assert len(starts) == 1 and starts[0].transaction_id == "T-1" and starts[0].connector == 2
    ended = end_at < len(seq_nos) and seq_nos[end_at] not in seq_nos[:end_at]
    assert len(stops) == (1 if ended else 0)
    assert ("T-1" in state.transactions) is not ended


def test_a_huge_multiplier_is_a_meter_problem_not_a_crash() -> None:
    request = _transaction_event(0, "Started")
    sampled = {"value": 1.0, "unitOfMeasure": {"unit": "Wh", "multiplier": 400}}
    request["meterValue"] = [{"timestamp": "2026-11-27T08:00:00Z", "sampledValue": [sampled]}]
    events = _decide("TransactionEvent", request, StationState())
    [sampled_event] = [e for e in events if type(e).__name__ == "MeterSampled"]
    assert sampled_event.samples == [] and sampled_event.problems  # type: ignore[attr-defined]
