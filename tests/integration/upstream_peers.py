"""Two real ``chargeward serve`` processes, one the upstream CSMS of the other (a local controller)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import trio

from tests.integration.serving import Served, serving

T = TypeVar("T")

UPSTREAM_CONFIG = """
[fleet]
unknown_id_tags = "Accepted"
heartbeat_interval = 77
"""

LOCAL_CONFIG = """
[upstream]
url = "ws://127.0.0.1:{port}/ocpp"
reply_timeout = 3
call_timeout = 10
backoff = 0.2
backoff_max = 1

[fleet]
unknown_id_tags = "Invalid"
"""


def ocpp_url(served: Served) -> str:
    found = re.search(r"OCPP on (ws://127\.0\.0\.1:\d+/ocpp)", served.banner)
    assert found is not None, served.banner
    return found.group(1)


def _written(data: Path, config: str) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    (data / "chargeward.toml").write_text(config)
    return data / "chargeward.toml"


@asynccontextmanager
async def chargeward(
    data: Path, config: str, ocpp_port: int = 0, env: dict[str, str] | None = None
) -> AsyncIterator[Served]:
    """``chargeward serve`` on ``data`` with ``config`` (TOML text), until its banner; ``env``: variables
    added to its environment."""
    args = ("--data-dir", str(data), "--config", str(_written(data, config)))
    args += ("--ocpp-port", str(ocpp_port), "--api-port", "0")
    async with serving(*args, until=b"(docs at /docs)", env=env) as served:
        yield served


async def eventually(
    read: Callable[[], Awaitable[T]], check: Callable[[T], bool], wait: float = 60, every: float = 0.2
) -> T:
    """What ``read`` gives once ``check`` holds for it (read ``every`` s, for up to ``wait`` s)."""
    with trio.fail_after(wait):
        while True:
            found = await read()
            if check(found):
                return found
            await trio.sleep(every)


async def stream(client: httpx.AsyncClient, station_id: str) -> list[dict[str, Any]]:
    """Every event of the station's stream on the chargeward behind ``client``."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        answer = await client.get(f"/api/stations/{station_id}/events", params={"after": after, "limit": 500})
        if answer.status_code == 404:
            return events
        assert answer.status_code == 200, answer.text
        page = answer.json()
        events += page["events"]
        if page["next_after"] is None:
            return events
        after = page["next_after"]


async def calls_received(client: httpx.AsyncClient, station_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The station-initiated calls the chargeward behind ``client`` received, in order: (action, payload)."""
    found = []
    for event in await stream(client, station_id):
        if event["type"] != "FrameReceived" or "action" not in event["data"]:
            continue
        frame = json.loads(event["data"]["text"])
        if frame[0] == 2:
            found.append((frame[2], frame[3]))
    return found
