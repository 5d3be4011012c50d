"""A running chargeward with its HTTP API on loopback (port 0), and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from adapters.api import ApiOptions, hash_token
from adapters.config import Config
from adapters.csms import Csms, open_csms
from tests.integration.conftest import make_config

TOKEN = "test-token-0123456789"


@dataclass
class Api:
    csms: Csms
    client: httpx.AsyncClient  # authenticated with TOKEN

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.csms.api_port}"


def api_config(data_dir: Path, *, tokens: tuple[str, ...] = (hash_token(TOKEN),), **fleet: object) -> Config:
    """The integration tests' config with the API on a free loopback port, guarded by ``tokens``."""
    return replace(make_config(data_dir, **fleet), api=ApiOptions(host="127.0.0.1", port=0, tokens=tokens))


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with open_csms(api_config(tmp_path)) as csms:
        assert csms.api_port
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=20,
        ) as client:
            yield Api(csms, client)
