"""Request parameters shared by several routes, declared once so /openapi.json agrees everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from adapters.api.problems import unknown_station
from core.events import check_stream

# Page caps keep the work of one response on the trio thread to a few milliseconds (what a full
# page of each kind costs is in bench/results/README.md).
MAX_STATIONS = 200
MAX_PAGE = 500

StationId = Annotated[
    str, Path(min_length=1, max_length=255, description="the OCPP station id", examples=["CP-1"])
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]
# A stream sequence or log position: the store keeps them as int64, and a bigger one overflowed there.
SEQUENCE_MAX = 2**63 - 1
StationLimit = Annotated[int, Query(ge=1, le=MAX_STATIONS, description="page size")]


def station_stream(station_id: str) -> str:
    """The station's stream id; 404 for an id that no station can have (one the log refuses)."""
    try:
        return check_stream(f"station/{station_id}")
    except ValueError:
        raise unknown_station(station_id) from None
