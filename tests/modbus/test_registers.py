"""The register codec: known vectors from the Modbus convention, and round trips for every type and order."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.registers import (
    ByteOrder,
    DataType,
    RegisterValueError,
    WordOrder,
    decode_raw,
    decode_scaled,
    encode_raw,
    encode_scaled,
)

Order = tuple[WordOrder, ByteOrder]
ORDERS: list[Order] = [(w, b) for w in WordOrder for b in ByteOrder]
INT_RANGE = {
    DataType.U16: (0, 0xFFFF),
    DataType.S16: (-0x8000, 0x7FFF),
    DataType.U32: (0, 0xFFFF_FFFF),
    DataType.S32: (-0x8000_0000, 0x7FFF_FFFF),
}


def test_float32_words_in_each_order() -> None:
    # 230.5 is 0x43668000 in IEEE 754 single precision.
    assert encode_raw(230.5, DataType.FLOAT32) == [0x4366, 0x8000]
    assert encode_raw(230.5, DataType.FLOAT32, WordOrder.LITTLE) == [0x8000, 0x4366]
    assert encode_raw(230.5, DataType.FLOAT32, WordOrder.BIG, ByteOrder.LITTLE) == [0x6643, 0x0080]
    assert encode_raw(230.5, DataType.FLOAT32, WordOrder.LITTLE, ByteOrder.LITTLE) == [0x0080, 0x6643]


def test_signed_and_wide_integers() -> None:
    assert encode_raw(-1, DataType.S16) == [0xFFFF]
    assert decode_raw([0xFFFE], DataType.S16) == -2
    assert decode_raw([0xFFFE], DataType.U16) == 0xFFFE
    assert encode_raw(0x12345678, DataType.U32, WordOrder.LITTLE) == [0x5678, 0x1234]
    assert decode_raw([0x0000, 0x0000, 0x0000, 0x3FF0], DataType.FLOAT64, WordOrder.LITTLE) == 1.0
    assert decode_raw([0x3FF0, 0x0000, 0x0000, 0x0000], DataType.FLOAT64) == 1.0


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (70000, DataType.U16),
        (-1, DataType.U32),
        (40000, DataType.S16),
        (2**31, DataType.S32),
        (1.5, DataType.U16),
    ],
)
def test_unrepresentable_values_are_refused(value: float, dtype: DataType) -> None:
    with pytest.raises(RegisterValueError, match=dtype.value):
        encode_raw(value, dtype)


def test_wrong_register_count_and_words_are_refused() -> None:
    with pytest.raises(RegisterValueError, match="takes 2 registers"):
        decode_raw([1], DataType.FLOAT32)
    with pytest.raises(RegisterValueError, match=r"0\.\.65535"):
        decode_raw([70000], DataType.U16)
    with pytest.raises(RegisterValueError, match="scale"):
        encode_scaled(1.0, DataType.U16, scale=0.0)


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[DataType, int | float]:
    dtype = draw(st.sampled_from(list(DataType)))
    if dtype in INT_RANGE:
        low, high = INT_RANGE[dtype]
        return dtype, draw(st.integers(low, high))
    if dtype is DataType.FLOAT32:
        return dtype, draw(st.floats(width=32, allow_nan=False))
    return dtype, draw(st.floats(allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(typed_values(), st.sampled_from(ORDERS))
def test_raw_round_trip_for_every_type_and_order(typed: tuple[DataType, int | float], order: Order) -> None:
    dtype, value = typed
    words = encode_raw(value, dtype, *order)
    assert len(words) == dtype.register_count
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode_raw(words, dtype, *order) == value


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(DataType)), st.sampled_from(ORDERS), st.binary(min_size=8, max_size=8))
def test_decode_then_encode_restores_the_words(dtype: DataType, order: Order, data: bytes) -> None:
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, 2 * dtype.register_count, 2)]
    value = decode_raw(words, dtype, *order)
    if isinstance(value, float) and math.isnan(value):
        return  # NaN payloads need not survive a float round trip
    assert encode_raw(value, dtype, *order) == words


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([DataType.U32, DataType.S32]),
    st.sampled_from(ORDERS),
    st.integers(-(2**31), 2**31 - 1),
    st.sampled_from([0.1, 0.01, 0.001, 10.0]),
)
def test_scaled_integers_round_trip_to_the_step(
    dtype: DataType, order: Order, raw: int, scale: float
) -> None:
    if dtype is DataType.U32:
        raw = abs(raw)
    value = raw * scale
    words = encode_scaled(value, dtype, order[0], order[1], scale=scale)
    assert decode_raw(words, dtype, *order) == raw
    assert decode_scaled(words, dtype, order[0], order[1], scale=scale) == pytest.approx(value)


def test_word_order_matches_struct_for_float64() -> None:
    expected = struct.pack(">d", math.pi)
    words = encode_raw(math.pi, DataType.FLOAT64)
    assert b"".join(w.to_bytes(2, "big") for w in words) == expected
