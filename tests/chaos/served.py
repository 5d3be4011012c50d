"""A real ``chargeward serve`` for the chaos tests: a config file, the OCPP URL and an API client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.serving import Served, serving


@dataclass
class Server:
    served: Served
    api: httpx.AsyncClient

    @property
    def ocpp_url(self) -> str:
        found = re.search(r"OCPP on (ws://127\.0\.0\.1:\d+/ocpp)/", self.served.banner)
        assert found is not None, self.served.banner
        return found.group(1)

    @property
    def ocpp_port(self) -> int:
        return int(self.ocpp_url.rsplit(":", 1)[1].split("/")[0])


@asynccontextmanager
async def chargeward(data_dir: Path, toml: str = "") -> AsyncIterator[Server]:
    """``chargeward serve --config`` on free loopback ports with ``toml`` as the config file."""
    config = data_dir / "chargeward.toml"
    config.write_text(toml)
    args = ("--config", str(config), "--data-dir", str(data_dir), "--ocpp-port", "0", "--api-port", "0")
    async with serving(*args) as served, httpx.AsyncClient(base_url=served.api_url, timeout=120) as api:
        yield Server(served, api)
