"""Request parameters shared by several routes, declared once so /openapi.json agrees everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_PAGE = 1000

StationId = Annotated[
    str, Path(min_length=1, max_length=255, description="the OCPP station id", examples=["CP-1"])
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]
