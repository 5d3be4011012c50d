"""Canned CALLRESULT payloads for the OCPP 1.6 station-initiated actions the simulated stations send.

Shared by the floor peer; the payloads are what a CSMS that accepts everything would answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime


def canned_results(now: datetime | None = None) -> dict[str, str]:
    """Action name -> JSON text of its CALLRESULT payload, rendered once."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    accepted = {"idTagInfo": {"status": "Accepted"}}
    payloads: dict[str, object] = {
        "BootNotification": {"status": "Accepted", "currentTime": stamp, "interval": 300},
        "Heartbeat": {"currentTime": stamp},
        "StatusNotification": {},
        "Authorize": accepted,
        "StartTransaction": {"transactionId": 1, **accepted},
        "MeterValues": {},
        "StopTransaction": accepted,
        "DataTransfer": {"status": "Accepted"},
        "DiagnosticsStatusNotification": {},
        "FirmwareStatusNotification": {},
    }
    return {action: json.dumps(body, separators=(",", ":")) for action, body in payloads.items()}
