"""The real charger's session replayed through a CSMS-role engine and the validator, both policies.

This is the loop the station actor runs: receive, validate, answer. Lenient answers every frame
with a CALLRESULT and records the repairs; strict answers the two quirky frames with CALLERRORs
and carries on with the rest of the session on the same engine.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.ocpp import CallReceived, OcppError, Policy, Role, Session, Validator
from actors.ocpp.validation import actions
from tests.shared_fixtures import CHARGEDOT_SESSION

FIXTURE = CHARGEDOT_SESSION


def _replay(policy: Policy) -> tuple[list[list[Any]], list[str], Session]:
    session, validator = Session(Role.CSMS), Validator("1.6", policy)
    replies: list[list[Any]] = []
    repairs: list[str] = []
    for now, line in enumerate(FIXTURE.read_text().splitlines()):
        text = json.dumps(json.loads(line)["frame"]).replace('"$TX"', "4711")
        [event] = session.receive(text, now=float(now))
        assert isinstance(event, CallReceived)
        try:
            accepted = validator.validate_request(event.action, event.payload)
        except OcppError as error:
            replies.append(json.loads(session.answer_error(event.unique_id, error)))
            continue
        repairs.extend(f"{event.action} {r.path} {r.kind} {r.before}->{r.after}" for r in accepted.repairs)
        replies.append(json.loads(session.answer(event.unique_id, {})))
    assert session.outstanding_peer_calls == {}
    return replies, repairs, session


def test_lenient_answers_every_frame_and_records_each_repair() -> None:
    replies, repairs, session = _replay(Policy.LENIENT)
    assert len(replies) == 13 and all(reply[0] == 3 for reply in replies)
    assert repairs == [
        "BootNotification $.ChargeBoxSerialNumber key_case ChargeBoxSerialNumber->chargeBoxSerialNumber",
        "MeterValues $.meterValue[0].sampledValue[1].unit enum_alias Hz->Hertz",
        "MeterValues $.meterValue[0].sampledValue[2].unit enum_alias Celcius->Celsius",
    ]
    assert session.counters.bad_frames == 0


def test_strict_answers_the_quirky_frames_with_callerrors_and_keeps_going() -> None:
    replies, repairs, _ = _replay(Policy.STRICT)
    errors = [(reply[1], reply[2]) for reply in replies if reply[0] == 4]
    assert errors == [("5281674", "FormationViolation"), ("3890750", "PropertyConstraintViolation")]
    assert len(replies) == 13 and repairs == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@pytest.mark.parametrize("policy", list(Policy))
@settings(max_examples=150, deadline=None)
@given(
    action=st.sampled_from(sorted(actions("1.6"))), payload=st.dictionaries(st.text(max_size=12), json_values)
)
def test_fuzzed_payloads_are_accepted_or_get_an_ocpp_error(
    policy: Policy, action: str, payload: dict[str, Any]
) -> None:
    try:
        accepted = Validator("1.6", policy).validate_request(action, payload)
    except OcppError as error:
        assert error.description and error.path.startswith("$")
    else:  # whatever lenient lets through is strictly valid
        Validator("1.6", Policy.STRICT).validate_request(action, accepted.payload)
