"""A slow upstream CSMS for tests: the ``ocpp`` package's asyncio v16 ChargePoint as a central system,
served with ``websockets.serve``, answering every station call only after a delay.

    python -m tests.peers.slow_csms PORT DELAY

Serves ``ws://127.0.0.1:PORT/<anything>/<station id>`` with subprotocol ``ocpp1.6``. Prints
``{"listening": PORT}`` once it listens, then ``{"call": action, "payload": {...}}`` for every call
as it arrives (before the delay), one JSON line each. Its answers are recognisable: heartbeat
interval 77, every idTag Accepted, transaction ids from 9001.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result

DELAY = 1.0
_IDS = itertools.count(9001)
NOW = "2026-11-27T08:00:00Z"


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


class SlowCentral(ChargePoint):
    async def slow(self, action: str, payload: dict[str, Any]) -> None:
        emit({"call": action, "payload": payload})
        await asyncio.sleep(DELAY)

    @on("BootNotification")
    async def boot(self, **kw: Any) -> Any:
        await self.slow("BootNotification", kw)
        return call_result.BootNotification(current_time=NOW, interval=77, status="Accepted")

    @on("Heartbeat")
    async def heartbeat(self, **kw: Any) -> Any:
        await self.slow("Heartbeat", kw)
        return call_result.Heartbeat(current_time=NOW)

    @on("StatusNotification")
    async def status(self, **kw: Any) -> Any:
        await self.slow("StatusNotification", kw)
        return call_result.StatusNotification()

    @on("MeterValues")
    async def meter_values(self, **kw: Any) -> Any:
        await self.slow("MeterValues", kw)
        return call_result.MeterValues()

    @on("Authorize")
    async def authorize(self, **kw: Any) -> Any:
        await self.slow("Authorize", kw)
        return call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")
    async def start_transaction(self, **kw: Any) -> Any:
        await self.slow("StartTransaction", kw)
        return call_result.StartTransaction(transaction_id=next(_IDS), id_tag_info={"status": "Accepted"})

    @on("StopTransaction")
    async def stop_transaction(self, **kw: Any) -> Any:
        await self.slow("StopTransaction", kw)
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})


async def handle(connection: Any) -> None:
    station_id = connection.request.path.rstrip("/").rpartition("/")[2]
    await SlowCentral(station_id, connection, response_timeout=30).start()


async def main(port: int) -> None:
    async with websockets.serve(handle, "127.0.0.1", port, subprotocols=[websockets.Subprotocol("ocpp1.6")]):
        emit({"listening": port})
        await asyncio.Future()


if __name__ == "__main__":
    DELAY = float(sys.argv[2])
    asyncio.run(main(int(sys.argv[1])))
