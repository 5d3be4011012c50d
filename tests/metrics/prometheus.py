"""A real Prometheus on loopback for the tests: generated config, tmp storage, killed on exit."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def get_json(url: str) -> Any:
    def fetch() -> Any:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())

    return await trio.to_thread.run_sync(fetch)


class Prometheus:
    """A running server; :meth:`query` and :meth:`rules` go through its HTTP API."""

    def __init__(self, base: str) -> None:
        self.base = base

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant-vector result of ``promql`` (may be empty)."""
        answer = await get_json(f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    async def wait_for(self, promql: str) -> list[dict[str, Any]]:
        """Poll until ``promql`` returns something (the scrape interval is 1 s); bound it by the caller."""
        while True:
            result = await self.query(promql)
            if result:
                return result
            await trio.sleep(0.5)

    async def rules(self) -> list[dict[str, Any]]:
        answer = await get_json(f"{self.base}/api/v1/rules")
        return [rule for group in answer["data"]["groups"] for rule in group["rules"]]


@asynccontextmanager
async def prometheus(tmp: Path, target: str) -> AsyncIterator[Prometheus]:
    """Prometheus scraping ``target`` (host:port, /metrics) every second, with the shipped alerts."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not on PATH (deploy/install-prometheus.sh installs it)")
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(ALERTS)],
                "scrape_configs": [{"job_name": "chargeward", "static_configs": [{"targets": [target]}]}],
            }
        )
    )
    with (tmp / "prometheus.log").open("wb") as log:  # the child keeps its own descriptor
        process = await trio.lowlevel.open_process(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with trio.fail_after(30):
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"prometheus exited: {(tmp / 'prometheus.log').read_text()[-2000:]}")
                try:
                    await get_json(f"{base}/api/v1/status/buildinfo")
                    break
                except OSError:
                    await trio.sleep(0.2)
        yield Prometheus(base)
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
