"""Stored events as JSON, for the API and the CLI: datetimes become ISO 8601, bytes base64.

msgpack payloads may hold what JSON cannot: bytes, datetimes, non-string keys, and floats that are
not finite (JSON has no NaN). Each is turned into the nearest JSON value instead of failing the
response, so one odd event cannot make a station's history unreadable. Text may hold lone
surrogates (a station sent ``"\\ud800"``); JSON text written out gets them as ``\\uXXXX`` escapes
(:func:`escape_surrogates`), which is lossless and encodable as UTF-8.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from core.events import EventRecord

_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """JSON text with each lone surrogate written as its ``\\uXXXX`` escape, as ``ensure_ascii`` would.

    ``json.dumps(ensure_ascii=False)`` leaves a lone surrogate as a character, which UTF-8 cannot
    encode. Outside string literals JSON text is ASCII, so the escape lands inside the same string
    and means the same character: the output is the same JSON value, now encodable.
    """
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def to_json(value: Any) -> Any:
    """``value`` with every part made representable in JSON."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def record_json(record: EventRecord) -> str:
    """One record as a compact JSON line (``chargeward events tail``)."""
    return escape_surrogates(json.dumps(record_to_json(record), ensure_ascii=False, separators=(",", ":")))


def record_to_json(record: EventRecord) -> dict[str, Any]:
    return {
        "stream": record.stream,
        "sequence": record.sequence,
        "position": record.position,
        "type": record.type,
        "time": record.time.isoformat(),
        "data": to_json(record.data),
    }
