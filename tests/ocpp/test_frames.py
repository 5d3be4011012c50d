"""Frames: round trips, and every envelope error with its code and recovered id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.ocpp import Call, CallError, CallResult, ErrorCode, OcppError, encode_frame, parse_frame
from actors.ocpp.v16.actions import TABLE as V16_ACTIONS
from actors.ocpp.v201.actions import TABLE as V201_ACTIONS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(st.text(), json_values, max_size=5)
frames = st.one_of(
    st.builds(Call, st.text(), st.text(), objects),
    st.builds(CallResult, st.text(), objects),
    st.builds(CallError, st.text(), st.text(), st.text(), objects),
)


@settings(max_examples=200)
@given(frames)
def test_encode_then_parse_gives_the_frame_back(frame: Call | CallResult | CallError) -> None:
    text = encode_frame(frame)
    assert parse_frame(text) == frame
    assert parse_frame(text.encode()) == frame


def test_encoding_is_compact_json() -> None:
    text = encode_frame(Call("19223201", "BootNotification", {"chargePointVendor": "VendorX", "n": 1}))
    assert text == '[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","n":1}]'
    assert encode_frame(CallError("7", "NotImplemented", "no", {})) == '[4,"7","NotImplemented","no",{}]'


@pytest.mark.parametrize(
    ("text", "code", "unique_id"),
    [
        ("not json", ErrorCode.FORMATION_VIOLATION, None),
        ('[2, "1", "Heartbeat", {"x": NaN}]', ErrorCode.FORMATION_VIOLATION, None),
        ("[" * 100_000, ErrorCode.FORMATION_VIOLATION, None),
        (b"\xff\xfe[2]", ErrorCode.FORMATION_VIOLATION, None),
        ('{"a": 1}', ErrorCode.PROTOCOL_ERROR, None),
        ("[]", ErrorCode.PROTOCOL_ERROR, None),
        ("[2]", ErrorCode.FORMATION_VIOLATION, None),
        ('[2, 17, "Heartbeat", {}]', ErrorCode.FORMATION_VIOLATION, None),
        ('[7, "u1", "Heartbeat", {}]', ErrorCode.FORMATION_VIOLATION, "u1"),
        ('[true, "u1", {}]', ErrorCode.FORMATION_VIOLATION, "u1"),
        ('["2", "u1", "Heartbeat", {}]', ErrorCode.FORMATION_VIOLATION, "u1"),
        ('[2, "u2", "Heartbeat"]', ErrorCode.FORMATION_VIOLATION, "u2"),
        ('[2, "u3", "Heartbeat", {}, {}]', ErrorCode.FORMATION_VIOLATION, "u3"),
        ('[2, "u4", 5, {}]', ErrorCode.FORMATION_VIOLATION, "u4"),
        ('[2, "u5", "Heartbeat", []]', ErrorCode.FORMATION_VIOLATION, "u5"),
        ('[3, "u6", "text"]', ErrorCode.FORMATION_VIOLATION, "u6"),
        ('[4, "u7", "GenericError", "x"]', ErrorCode.FORMATION_VIOLATION, "u7"),
        ('[4, "u8", 1, "x", {}]', ErrorCode.FORMATION_VIOLATION, "u8"),
        ('[4, "u9", "GenericError", "x", null]', ErrorCode.FORMATION_VIOLATION, "u9"),
    ],
)
def test_bad_frames_raise_one_error_type_with_code_and_id(
    text: str | bytes, code: ErrorCode, unique_id: str | None
) -> None:
    with pytest.raises(OcppError) as caught:
        parse_frame(text)
    assert caught.value.code is code
    assert caught.value.unique_id == unique_id
    assert caught.value.description


def test_error_codes_are_the_ocpp_16_names() -> None:
    assert {code.value for code in ErrorCode} == {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
    assert V201_ACTIONS.spell(ErrorCode.FORMATION_VIOLATION) == "FormatViolation"
    assert V16_ACTIONS.spell(ErrorCode.FORMATION_VIOLATION) == "FormationViolation"


@settings(max_examples=300)
@given(st.one_of(st.text(), st.binary(), json_values.map(json.dumps)))
def test_arbitrary_input_parses_or_raises_ocpp_error_only(text: Any) -> None:
    try:
        frame = parse_frame(text)
    except OcppError as error:
        assert isinstance(error.code, ErrorCode)
    else:
        assert isinstance(frame, Call | CallResult | CallError)
