"""Stored events as JSON, for the API and the CLI: datetimes become ISO 8601, bytes base64.

msgpack payloads may hold what JSON cannot: bytes, datetimes, non-string keys, and floats that are
not finite (JSON has no NaN). Each is turned into the nearest JSON value instead of failing the
response, so one odd event cannot make a station's history unreadable.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from core.events import EventRecord


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
    return json.dumps(record_to_json(record), ensure_ascii=False, separators=(",", ":"))


def record_to_json(record: EventRecord) -> dict[str, Any]:
    return {
        "stream": record.stream,
        "sequence": record.sequence,
        "position": record.position,
        "type": record.type,
        "time": record.time.isoformat(),
        "data": to_json(record.data),
    }
