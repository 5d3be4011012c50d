"""Event records as JSON: for the CLI's timelines and exports to people, and the API.

Payloads hold what the codec can carry (datetimes, Decimals, UUIDs, bytes); JSON gets ISO 8601 for
datetimes, strings for Decimals and UUIDs, and base64 for bytes.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from core.events import EventRecord


def jsonable(value: Any) -> Any:
    """``value`` with every non-JSON leaf converted (see the module docstring)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def record_dict(record: EventRecord) -> dict[str, Any]:
    return {
        "position": record.position,
        "stream": record.stream,
        "sequence": record.sequence,
        "type": record.type,
        "time": record.time.isoformat(),
        "data": jsonable(dict(record.data)),
    }


def record_json(record: EventRecord) -> str:
    return json.dumps(record_dict(record), ensure_ascii=False, separators=(",", ":"))
