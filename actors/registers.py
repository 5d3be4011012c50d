"""Pure encoding and decoding of Modbus register values.

A Modbus register is a 16-bit word. Devices store wider values (32- and 64-bit integers,
IEEE 754 floats) across consecutive registers, and vendors disagree on the order of the
words (``word_order``) and, more rarely, of the two bytes inside each word (``byte_order``).
This module turns a list of register words into a number and back, for every supported
type and order, and applies a profile's ``scale`` (engineering value = raw * scale).

It knows nothing of transports or devices; the meter actor and the simulated devices both
use it, so what the bench writes is exactly what the actor reads.
"""

from __future__ import annotations

import enum
import math
import struct


class DataType(enum.Enum):
    """A register value type: its name in profiles and its ``struct`` format."""

    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def register_count(self) -> int:
        """How many 16-bit registers one value of this type occupies."""
        return _LAYOUT[self][1] // 2

    @property
    def is_float(self) -> bool:
        """Whether the type is IEEE 754 (as opposed to a two's complement or unsigned integer)."""
        return self in (DataType.FLOAT32, DataType.FLOAT64)


class WordOrder(enum.Enum):
    """Order of the 16-bit words of a multi-register value: ``big`` means most significant word first."""

    BIG = "big"
    LITTLE = "little"


class ByteOrder(enum.Enum):
    """Order of the two bytes inside each word: ``big`` is the Modbus standard, ``little`` swaps them."""

    BIG = "big"
    LITTLE = "little"


_LAYOUT: dict[DataType, tuple[str, int]] = {
    DataType.U16: (">H", 2),
    DataType.S16: (">h", 2),
    DataType.U32: (">I", 4),
    DataType.S32: (">i", 4),
    DataType.FLOAT32: (">f", 4),
    DataType.FLOAT64: (">d", 8),
}


class RegisterValueError(ValueError):
    """A value cannot be represented in, or decoded from, the given registers."""


def _order_words(words: list[int], word_order: WordOrder, byte_order: ByteOrder) -> list[int]:
    """Convert between canonical order (big/big) and device order; the mapping is its own inverse."""
    if byte_order is ByteOrder.LITTLE:
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    if word_order is WordOrder.LITTLE:
        words = words[::-1]
    return words


def encode_raw(
    value: int | float,
    dtype: DataType,
    word_order: WordOrder = WordOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
) -> list[int]:
    """Encode a raw (unscaled) value into register words in device order.

    Integers out of the type's range raise :class:`RegisterValueError` instead of wrapping.
    """
    fmt, size = _LAYOUT[dtype]
    if not dtype.is_float and isinstance(value, float):
        if not value.is_integer():
            raise RegisterValueError(f"{dtype.value} needs an integer, got {value!r}")
        value = int(value)
    try:
        data = struct.pack(fmt, value)
    except (struct.error, OverflowError) as exc:
        raise RegisterValueError(f"{value!r} does not fit {dtype.value}: {exc}") from exc
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, size, 2)]
    return _order_words(words, word_order, byte_order)


def decode_raw(
    registers: list[int],
    dtype: DataType,
    word_order: WordOrder = WordOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
) -> int | float:
    """Decode register words in device order into the raw (unscaled) value."""
    if len(registers) != dtype.register_count:
        raise RegisterValueError(
            f"{dtype.value} takes {dtype.register_count} registers, got {len(registers)}"
        )
    if any(not 0 <= w <= 0xFFFF for w in registers):
        raise RegisterValueError(f"register words must be 0..65535, got {registers}")
    words = _order_words(list(registers), word_order, byte_order)
    data = b"".join(w.to_bytes(2, "big") for w in words)
    value: int | float = struct.unpack(_LAYOUT[dtype][0], data)[0]
    return value


def decode_scaled(
    registers: list[int],
    dtype: DataType,
    word_order: WordOrder = WordOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
    scale: float = 1.0,
) -> float:
    """Decode registers into an engineering value: ``raw * scale`` as a float."""
    return float(decode_raw(registers, dtype, word_order, byte_order)) * scale


def encode_scaled(
    value: float,
    dtype: DataType,
    word_order: WordOrder = WordOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
    scale: float = 1.0,
) -> list[int]:
    """Encode an engineering value: ``value / scale``, rounded to the nearest integer for integer types."""
    if scale == 0 or not math.isfinite(scale):
        raise RegisterValueError(f"scale must be finite and non-zero, got {scale!r}")
    raw = value / scale
    if not dtype.is_float:
        if not math.isfinite(raw):
            raise RegisterValueError(f"{value!r} / {scale!r} is not a finite number")
        return encode_raw(round(raw), dtype, word_order, byte_order)
    return encode_raw(raw, dtype, word_order, byte_order)
