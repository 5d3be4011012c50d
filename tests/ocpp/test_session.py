"""The session engine, paired h11-style: a CSMS-role and a station-role engine wired in memory."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.ocpp import (
    BadFrame,
    CallError,
    CallFailed,
    CallReceived,
    CallRefused,
    CallRepeated,
    CallTimedOut,
    ErrorCode,
    ErrorReceived,
    OcppError,
    ReplyDropped,
    ResultReceived,
    Role,
    Session,
    SessionError,
    parse_frame,
)
from actors.ocpp.v201.actions import TABLE as V201_ACTIONS

BOOT = {"chargePointVendor": "Chargedot", "chargePointModel": "CDT_TACW7"}


def pair() -> tuple[Session, Session]:
    return Session(Role.CSMS, id_prefix="c"), Session(Role.STATION, id_prefix="s")


def test_a_station_call_is_received_answered_and_matched() -> None:
    csms, station = pair()
    outgoing = station.call("BootNotification", BOOT, now=1.0)
    assert station.in_flight == outgoing.unique_id == "s1"
    assert station.next_deadline == 31.0
    [received] = csms.receive(outgoing.text, now=1.1)
    assert received == CallReceived("s1", "BootNotification", BOOT)
    answer = {"status": "Accepted", "currentTime": "2026-11-21T05:00:00Z", "interval": 300}
    [result] = station.receive(csms.answer("s1", answer), now=1.25)
    assert result == ResultReceived("s1", "BootNotification", answer, sent_at=1.0, received_at=1.25)
    assert station.in_flight is None and station.next_deadline is None
    assert csms.outstanding_peer_calls == {}


def test_both_directions_at_once_and_a_callerror_reply() -> None:
    csms, station = pair()
    ours = csms.call("Reset", {"type": "Soft"}, now=0.0)
    theirs = station.call("Heartbeat", {}, now=0.0)
    [reset] = station.receive(ours.text, now=0.1)
    [heartbeat] = csms.receive(theirs.text, now=0.1)
    assert isinstance(reset, CallReceived) and isinstance(heartbeat, CallReceived)
    refusal = OcppError(ErrorCode.NOT_SUPPORTED, "no soft reset here")
    [error] = csms.receive(station.answer_error(reset.unique_id, refusal), now=0.2)
    assert isinstance(error, ErrorReceived)
    assert (error.unique_id, error.code, error.description) == ("c1", "NotSupported", "no soft reset here")
    [done] = station.receive(csms.answer(heartbeat.unique_id, {"currentTime": "x"}), now=0.3)
    assert isinstance(done, ResultReceived) and done.action == "Heartbeat"


def test_a_second_call_in_flight_is_refused_clearly() -> None:
    csms, _ = pair()
    csms.call("ClearCache", {}, now=0.0)
    with pytest.raises(SessionError, match="still in flight"):
        csms.call("Reset", {"type": "Hard"}, now=0.0)


def test_a_role_may_only_start_its_own_actions() -> None:
    csms, station = pair()
    with pytest.raises(SessionError, match="may not start"):
        csms.call("Heartbeat", {}, now=0.0)
    with pytest.raises(SessionError, match="may not start"):
        station.call("Reset", {"type": "Hard"}, now=0.0)


def test_answering_a_call_that_is_not_outstanding_is_an_error() -> None:
    csms, station = pair()
    with pytest.raises(SessionError, match="no call"):
        csms.answer("nope", {})
    [call] = csms.receive(station.call("Heartbeat", {}, now=0.0).text, now=0.0)
    assert isinstance(call, CallReceived)
    csms.answer(call.unique_id, {"currentTime": "x"})
    with pytest.raises(SessionError, match="no call"):
        csms.answer_error(call.unique_id, OcppError(ErrorCode.INTERNAL_ERROR, "twice"))


def test_timeout_frees_the_slot_and_the_late_reply_is_dropped_and_counted() -> None:
    _, station = pair()
    csms = Session(Role.CSMS, timeout=5.0)
    outgoing = csms.call("GetConfiguration", {}, now=10.0)
    [call] = station.receive(outgoing.text, now=10.0)
    assert csms.expire(14.9) == []
    [timed_out] = csms.expire(15.0)
    assert timed_out == CallTimedOut(outgoing.unique_id, "GetConfiguration", 10.0, 15.0)
    assert csms.in_flight is None and csms.counters.timeouts == 1
    assert isinstance(call, CallReceived)
    [dropped] = csms.receive(station.answer(call.unique_id, {"configurationKey": []}), now=16.0)
    assert isinstance(dropped, ReplyDropped) and dropped.late
    [unknown] = csms.receive('[3,"never-sent",{}]', now=16.0)
    assert isinstance(unknown, ReplyDropped) and not unknown.late
    assert csms.counters.late_replies == 2
    csms.call("ClearCache", {}, now=17.0)  # the slot is free again


def test_a_bad_call_gets_a_callerror_and_the_connection_carries_on() -> None:
    csms, station = pair()
    [bad] = csms.receive('[2,"u1","Heartbeat",[]]', now=0.0)
    assert isinstance(bad, BadFrame) and bad.reply is not None
    assert parse_frame(bad.reply).code == "FormationViolation"  # type: ignore[union-attr]
    [hopeless] = csms.receive("{{{", now=0.0)
    assert isinstance(hopeless, BadFrame) and hopeless.reply is not None
    assert json.loads(hopeless.reply)[:3] == [4, "-1", "FormationViolation"]  # no id to read: "-1"
    [binary] = csms.receive(b'[2,"u2","Heartbeat",{}]', now=0.0)
    assert isinstance(binary, BadFrame) and binary.reply is not None
    assert json.loads(binary.reply)[:3] == [4, "-1", "FormationViolation"]  # OCPP-J is text only
    assert csms.counters.bad_frames == 3
    [fine] = csms.receive(station.call("Heartbeat", {}, now=0.0).text, now=0.0)
    assert isinstance(fine, CallReceived)


def test_201_spells_format_violation_its_way() -> None:
    session = Session(Role.CSMS, actions=V201_ACTIONS)
    [bad] = session.receive('[2,"u1","Heartbeat",7]', now=0.0)
    assert isinstance(bad, BadFrame) and bad.reply is not None
    assert json.loads(bad.reply)[2] == "FormatViolation"


def test_201_refuses_by_its_own_action_table() -> None:
    session = Session(Role.CSMS, actions=V201_ACTIONS)
    [ok] = session.receive('[2,"u1","TransactionEvent",{}]', now=0.0)
    assert isinstance(ok, CallReceived)  # not a 1.6 action, but a 2.0.1 one
    [old] = session.receive('[2,"u2","StartTransaction",{}]', now=0.0)
    assert isinstance(old, CallRefused) and old.error.code is ErrorCode.NOT_IMPLEMENTED
    [wrong] = session.receive('[2,"u3","GetVariables",{}]', now=0.0)
    assert isinstance(wrong, CallRefused) and wrong.error.code is ErrorCode.NOT_SUPPORTED


def test_a_malformed_reply_to_our_call_fails_it_at_once() -> None:
    csms, _ = pair()
    outgoing = csms.call("ClearCache", {}, now=0.0)
    [failed] = csms.receive(f'[3,"{outgoing.unique_id}","oops"]', now=0.5)
    assert isinstance(failed, CallFailed) and failed.error.code is ErrorCode.FORMATION_VIOLATION
    assert csms.in_flight is None and csms.counters.failed_replies == 1


def test_unknown_and_wrong_direction_actions_are_refused() -> None:
    csms, station = pair()
    [unknown] = csms.receive('[2,"u1","MakeCoffee",{}]', now=0.0)
    [wrong] = csms.receive('[2,"u2","Reset",{"type":"Hard"}]', now=0.0)
    assert isinstance(unknown, CallRefused) and isinstance(wrong, CallRefused)
    assert json.loads(unknown.reply)[:3] == [4, "u1", "NotImplemented"]
    assert json.loads(wrong.reply)[:3] == [4, "u2", "NotSupported"]
    [both_ways] = station.receive('[2,"u3","DataTransfer",{"vendorId":"x"}]', now=0.0)
    assert isinstance(both_ways, CallReceived)


def test_overlapping_peer_calls_are_accepted_repeats_dropped_and_floods_bounded() -> None:
    csms = Session(Role.CSMS, max_peer_calls=2)
    first = csms.receive('[2,"a","StatusNotification",{}]', now=0.0)
    second = csms.receive('[2,"b","MeterValues",{}]', now=0.1)
    assert [type(e) for e in first + second] == [CallReceived, CallReceived]
    assert csms.counters.overlapping_calls == 1
    [repeat] = csms.receive('[2,"a","StatusNotification",{}]', now=0.2)
    assert repeat == CallRepeated("a", "StatusNotification")
    [refused] = csms.receive('[2,"c","Heartbeat",{}]', now=0.3)
    assert isinstance(refused, CallRefused) and refused.error.code is ErrorCode.GENERIC_ERROR
    assert csms.outstanding_peer_calls == {"a": "StatusNotification", "b": "MeterValues"}
    csms.answer("b", {})  # answered out of order
    csms.answer("a", {})
    assert isinstance(csms.receive('[2,"c","Heartbeat",{}]', now=0.4)[0], CallReceived)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Session(Role.CSMS, timeout=0)
    with pytest.raises(ValueError, match="max_peer_calls"):
        Session(Role.CSMS, max_peer_calls=0)


def _frames_aimed_at(our_id: str) -> st.SearchStrategy[str]:
    ids = st.sampled_from([our_id, "p1", "x", ""]) | st.text(max_size=4)
    scalars = st.none() | st.integers() | st.text(max_size=5) | st.booleans()
    elements = st.lists(ids | scalars | st.dictionaries(st.text(max_size=3), scalars, max_size=2), max_size=5)
    shaped = st.tuples(st.sampled_from([2, 3, 4, 5, "3", None]), elements).map(
        lambda t: json.dumps([t[0], *t[1]])
    )
    return st.one_of(st.text(max_size=30), shaped)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_arbitrary_text_never_raises_and_never_loses_an_outstanding_call(data: st.DataObject) -> None:
    csms = Session(Role.CSMS)
    ours = csms.call("GetConfiguration", {}, now=0.0)
    csms.receive('[2,"p1","Heartbeat",{}]', now=0.0)
    texts = data.draw(st.lists(_frames_aimed_at(ours.unique_id), max_size=8))
    resolved = False
    for text in texts:
        before_peer = csms.outstanding_peer_calls
        events = csms.receive(text, now=1.0)
        assert len(events) == 1
        event = events[0]
        if isinstance(event, ResultReceived | ErrorReceived | CallFailed):
            assert event.unique_id == ours.unique_id and not resolved
            resolved = True
        assert csms.in_flight == (None if resolved else ours.unique_id)
        after_peer = csms.outstanding_peer_calls
        assert before_peer.items() <= after_peer.items()
        if isinstance(event, BadFrame | CallRefused) and event.reply is not None:
            reply = parse_frame(event.reply)
            assert isinstance(reply, CallError) and reply.code in {code.value for code in ErrorCode}
