"""The msgpack codec: exact round-trips of what events carry, clear errors for what they may not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Transcoder
from hypothesis import given
from hypothesis import strategies as st

from core.codec import MsgpackTranscoder, pack, unpack

offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
aware_datetimes = st.builds(
    lambda naive, offset: naive.replace(tzinfo=timezone(offset)),
    st.datetimes(),
    offsets,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | aware_datetimes
    | st.decimals(allow_nan=False)
    | st.uuids()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equality that also demands the same types (bytes is not str) and the same UTC offsets."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, datetime):
        return bool(a == b and a.utcoffset() == b.utcoffset())
    if isinstance(a, Decimal):
        return str(a) == str(b)  # keeps precision and sign of zero visible
    return bool(a == b)


@given(values)
def test_every_supported_value_round_trips_exactly(value: Any) -> None:
    assert same(unpack(pack(value)), value)


# Any text a JSON parser can hand over, lone surrogates included ("\\ud800" is valid JSON text).
json_text = st.text(st.characters() | st.characters(categories=["Cs"]))


@given(st.recursive(json_text, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner)))
def test_text_with_lone_surrogates_round_trips_exactly(value: Any) -> None:
    assert same(unpack(pack(value)), value)


@given(st.text())
def test_valid_text_is_plain_utf8_as_before(text: str) -> None:
    """surrogatepass changes nothing for valid text: logs written before read the same."""
    encoded = text.encode("utf-8")
    assert encoded in pack(text) and unpack(pack(text)) == text


@given(values)
def test_the_transcoder_is_the_codec(value: Any) -> None:
    transcoder = MsgpackTranscoder()
    assert isinstance(transcoder, Transcoder)
    assert transcoder.encode(value) == pack(value)
    assert same(transcoder.decode(transcoder.encode(value)), value)


def test_the_special_types_come_back_as_themselves() -> None:
    moment = datetime(2026, 11, 21, 5, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    payload = {
        "at": moment,
        "energy": Decimal("12.3450"),
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "raw": b"\x00\xff",
        "nested": [{"deep": [moment.astimezone(UTC)]}],
        "tuple": (1, 2),
        7: "int key",
    }
    back = unpack(pack(payload))
    assert back["at"] == moment and back["at"].utcoffset() == timedelta(hours=5, minutes=30)
    assert back["energy"] == Decimal("12.3450") and str(back["energy"]) == "12.3450"
    assert back["id"] == payload["id"]
    assert back["raw"] == b"\x00\xff" and isinstance(back["raw"], bytes)
    assert back["nested"][0]["deep"][0].tzinfo == UTC
    assert back["tuple"] == [1, 2]
    assert back[7] == "int key"


def test_extreme_datetimes_and_odd_offsets_round_trip() -> None:
    for moment in [
        datetime.min.replace(tzinfo=timezone(timedelta(hours=23, minutes=59))),
        datetime.max.replace(tzinfo=timezone(-timedelta(hours=23, minutes=59))),
        datetime(2000, 1, 1, tzinfo=timezone(timedelta(microseconds=1))),
    ]:
        back = unpack(pack(moment))
        assert back == moment and back.utcoffset() == moment.utcoffset()


def test_a_naive_datetime_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="naive datetime"):
        pack({"at": datetime(2026, 1, 1)})


@pytest.mark.parametrize(
    ("value", "type_name"),
    [({1, 2}, "set"), (object(), "object"), (frozenset(), "frozenset"), (1 + 2j, "complex")],
)
def test_an_unsupported_type_is_a_type_error_naming_it(value: object, type_name: str) -> None:
    with pytest.raises(TypeError, match=f"type {type_name}\\b"):
        pack({"outer": [{"inner": value}]})


def test_integers_beyond_64_bits_round_trip_exactly() -> None:
    """A station or operator may send any JSON number; the log must keep it, not crash the appender."""
    for value in (2**64, -(2**63) - 1, 10**40, -(10**40), 2**64 - 1, -(2**63)):
        assert unpack(pack({"n": value})) == {"n": value}


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\xc1", id="reserved byte"),
        pytest.param(b"\x92\x01", id="truncated array"),
        pytest.param(b"\x81\xa1a", id="map without value"),
        pytest.param(b"\x01\x02", id="extra data"),
        pytest.param(b"\xd4\x63\x00", id="unknown extension"),
        pytest.param(b"\xd4\x01\x00", id="short datetime"),
        pytest.param(b"\xd4\x02\x41", id="decimal that is not a number"),
        pytest.param(b"\xd4\x03\x00", id="short uuid"),
        pytest.param(b"\xc7\x13\x01" + bytes(19), id="datetime with month 0"),
    ],
)
def test_garbage_does_not_decode(garbage: bytes) -> None:
    with pytest.raises(ValueError):
        unpack(garbage)
