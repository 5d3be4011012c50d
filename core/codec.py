"""The payload codec: msgpack with extension types for the values events carry.

msgpack alone turns datetimes, decimals and UUIDs into errors or lossy values; the extension
types below make them round-trip exactly (a tz-aware datetime comes back with the same instant
and UTC offset; a named zone comes back as the equivalent fixed offset). ``bytes`` stay ``bytes``,
tuples come back as lists. Anything else, and naive datetimes, fail loudly at encode time with a
TypeError naming the type, so a bad payload is refused before it reaches the log rather than
discovered when it cannot be read back.

Strings are stored with the ``surrogatepass`` error handler: JSON can carry a lone surrogate
(``"\\ud800"`` is valid JSON text, and stations send it), Python keeps it in a ``str``, and strict
UTF-8 cannot encode it. ``surrogatepass`` writes it as its three-byte form and reads it back, so the
log keeps exactly what the station sent instead of refusing the event (which crashed the station's
actor every time). Valid text is encoded byte for byte as before, so old logs read unchanged.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, BinaryIO
from uuid import UUID

import msgpack
from eventsourcing.persistence import Transcoder

__all__ = ["MsgpackTranscoder", "pack", "unpack", "unpack_stream"]

_DATETIME = 1
_DECIMAL = 2
_UUID = 3
_BIG_INT = 4  # integers beyond 64 bits, as two's-complement bytes: JSON has no size limit on numbers
# Local wall-clock fields and the UTC offset in microseconds: exact for every offset Python allows
# (ISO text loses sub-second offsets) and never out of range (unlike an instant near year 1).
_DATETIME_FIELDS = struct.Struct(">HBBBBBIq")
_MICROSECOND = timedelta(microseconds=1)
_TEXT_ERRORS = "surrogatepass"  # lone surrogates round-trip (see the module docstring)


def _default(obj: object) -> msgpack.ExtType:
    if isinstance(obj, datetime):
        offset = obj.utcoffset()
        if offset is None:
            raise TypeError(f"cannot encode a naive datetime ({obj.isoformat()}): give it a timezone")
        fields = (obj.year, obj.month, obj.day, obj.hour, obj.minute, obj.second, obj.microsecond)
        return msgpack.ExtType(_DATETIME, _DATETIME_FIELDS.pack(*fields, offset // _MICROSECOND))
    if isinstance(obj, Decimal):
        return msgpack.ExtType(_DECIMAL, str(obj).encode())
    if isinstance(obj, UUID):
        return msgpack.ExtType(_UUID, obj.bytes)
    if isinstance(obj, int):  # msgpack hands over only the ints that do not fit in 64 bits
        return msgpack.ExtType(_BIG_INT, obj.to_bytes(obj.bit_length() // 8 + 1, "big", signed=True))
    raise TypeError(f"cannot encode a value of type {type(obj).__qualname__}: {obj!r:.80}")


def _ext_hook(code: int, data: bytes) -> object:
    try:
        return _decode_ext(code, data)
    except (struct.error, ArithmeticError) as e:  # Decimal's InvalidOperation is an ArithmeticError
        raise ValueError(f"malformed msgpack extension type {code}: {e!r}") from e


def _decode_ext(code: int, data: bytes) -> object:
    if code == _DATETIME:
        year, month, day, hour, minute, second, microsecond, offset = _DATETIME_FIELDS.unpack(data)
        zone = timezone(timedelta(microseconds=offset))
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)
    if code == _DECIMAL:
        return Decimal(data.decode())
    if code == _UUID:
        return UUID(bytes=data)
    if code == _BIG_INT:
        return int.from_bytes(data, "big", signed=True)
    raise ValueError(f"unknown msgpack extension type {code}")


class _Packers(threading.local):
    """One reusable packer per thread: ``msgpack.packb`` builds a new ``Packer`` (and its buffer) per
    call, which cost about as much as packing a small event; a packer is not safe to share between
    threads, and resets itself when a pack fails."""

    def __init__(self) -> None:
        self.strict = msgpack.Packer(default=_default, use_bin_type=True, datetime=False)


_PACKERS = _Packers()


def pack(obj: Any) -> bytes:
    """Encode ``obj`` to msgpack bytes; TypeError for unsupported types.

    msgpack encodes every string through a new bytes object when it is given an error handler, so the
    handler is used only for the rare payload that strict UTF-8 refuses (same bytes either way).
    """
    try:
        return _PACKERS.strict.pack(obj)  # type: ignore[no-any-return]
    except UnicodeEncodeError:
        return msgpack.packb(  # type: ignore[no-any-return]
            obj, default=_default, use_bin_type=True, datetime=False, unicode_errors=_TEXT_ERRORS
        )


def unpack(data: bytes) -> Any:
    """Decode msgpack bytes produced by :func:`pack`; ValueError (or a subclass) for anything else."""
    return msgpack.unpackb(
        data, ext_hook=_ext_hook, raw=False, strict_map_key=False, timestamp=0, unicode_errors=_TEXT_ERRORS
    )


def unpack_stream(source: BinaryIO) -> Iterator[Any]:
    """Decode consecutive packed objects from a binary file, one at a time (exports, imports).

    A stream cut off inside an object raises ``ValueError`` rather than yielding a partial object.
    """
    unpacker = msgpack.Unpacker(
        source, ext_hook=_ext_hook, raw=False, strict_map_key=False, timestamp=0, unicode_errors=_TEXT_ERRORS
    )
    yield from unpacker
    if unpacker.tell() != source.tell() or source.read(1):
        raise ValueError("the stream ends in the middle of an object")


class MsgpackTranscoder(Transcoder):
    """The codec as an ``eventsourcing`` transcoder, so the library's mapper stores msgpack bytes."""

    def encode(self, obj: Any) -> bytes:
        return pack(obj)

    def decode(self, data: bytes) -> Any:
        return unpack(data)
