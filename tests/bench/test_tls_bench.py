"""The bench over TLS: simulated stations connect with ``wss://``, a CA file and HTTP Basic to a
``chargeward serve`` at security profile 2 (the config ``python -m bench.tls`` writes), and load it.
Timings are not asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.scenarios import Scenario, drive
from bench.servers import BUILTIN, ServerSpec, running
from bench.tls import make_pki, profile_2_config

pytestmark = pytest.mark.slow


async def test_a_steady_run_over_wss_at_profile_2(tmp_path: Path) -> None:
    ca_file, cert, key = make_pki(tmp_path)
    scenario = Scenario("steady", stations=2, rates=(20.0,), duration=1.5, workers=1)
    ids = scenario.plans("")[0].station_ids
    config = profile_2_config(tmp_path, cert, key, ids, "bench-password-0123456789")
    spec = ServerSpec("wss", (*BUILTIN["chargeward"].argv, "--config", str(config)), scheme="wss")
    async with running(spec) as server:
        assert server.url.startswith("wss://")
        wrong = Scenario(**{**scenario.__dict__, "ca_file": str(ca_file), "password": "wrong-password-0000"})
        refused = await drive(server.url, Scenario(**{**wrong.__dict__, "setup_deadline": 2.0}))
        assert refused["setup"]["set_up"] == 0, "a wrong password does not connect"
        right = Scenario(**{**wrong.__dict__, "password": "bench-password-0123456789"})
        result = await drive(server.url, right, server)
    assert result["setup"]["connected"] == result["setup"]["set_up"] == 2
    step = result["steps"][0]
    assert step["errors"] == {} and step["timeouts"] == {} and step["answered"] > 0
