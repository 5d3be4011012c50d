"""Request parameters shared by several routes, declared once so /openapi.json agrees everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from adapters.api.problems import unknown_station
from core.events import check_stream

MAX_PAGE = 1000

StationId = Annotated[
    str, Path(min_length=1, max_length=255, description="the OCPP station id", examples=["CP-1"])
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]


def station_stream(station_id: str) -> str:
    """The station's stream id; 404 for an id that no station can have (one the log refuses)."""
    try:
        return check_stream(f"station/{station_id}")
    except ValueError:
        raise unknown_station(station_id) from None
