"""A composite schedule in OCPP 1.6's own shape (GetCompositeSchedule.conf), as the CLI prints it and
the API answers it, so the server's answer can be compared with a station's field by field."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from actors.charging.composite import CompositeSchedule


def composite_conf(schedule: CompositeSchedule, connector: int) -> dict[str, Any]:
    """The schedule as a 1.6 GetCompositeSchedule.conf; stretches without a limit have no period."""
    body: dict[str, Any] = {
        "duration": schedule.duration,
        "chargingRateUnit": schedule.unit.value,
        "chargingSchedulePeriod": [
            {"startPeriod": p.start, "limit": float(p.limit), "numberPhases": p.phases}
            for p in schedule.periods
            if p.limit is not None
        ],
    }
    if schedule.min_rate is not None:
        body["minChargingRate"] = float(schedule.min_rate)
    return {
        "status": "Accepted",
        "connectorId": connector,
        "scheduleStart": wire_time(schedule.start),
        "chargingSchedule": body,
    }


def wire_time(moment: datetime) -> str:
    """ISO 8601, with ``Z`` for UTC as stations write it."""
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z" if moment.utcoffset() == timedelta(0) else text
