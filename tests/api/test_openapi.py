"""/openapi.json is exact: schemathesis drives every operation from it against the running API."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import trio

from actors.ocpp.v16.actions import CSMS_INITIATED_16
from actors.ocpp.v201.actions import CSMS_INITIATED_201
from actors.policy import StationPolicy
from adapters.config import Config
from adapters.csms import open_csms
from tests.api.conftest import TOKEN, Api, api_config
from tests.integration.conftest import url_of
from tests.integration.peer import peer_station

# Only the documented gateway answers may be 5xx: 502 (the station's CALLERROR) and 504 (its timeout).
SCHEMATHESIS_CONFIG = """
[checks.not_a_server_error]
expected-statuses = ["1XX", "2XX", "3XX", "4XX", "502", "504"]

# A schema-valid need can still be refused: its departure may be past, its minimum above its maximum;
# a schema-valid price curve may be out of order; a schema-valid certificate string may not be a PEM
# certificate. Those answer 422 (invalid_need, invalid_prices, invalid_payload).
[[operations]]
include-name = [
    "POST /api/stations/{station_id}/connectors/{connector}/charging-needs",
    "PUT /api/sites/{site_id}/prices",
    "POST /api/stations/{station_id}/commands/InstallCertificate",
    "POST /api/stations/{station_id}/commands/CertificateSigned",
]
checks.positive_data_acceptance.expected-statuses = [
    "2XX", "3XX", "401", "403", "404", "409", "422", "429", "5XX",
]
"""


async def test_every_command_is_documented_with_its_ocpp_schema(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    commands = {p.rsplit("/", 1)[1] for p in document["paths"] if "/commands/" in p}
    assert commands == CSMS_INITIATED_16 | CSMS_INITIATED_201
    reset = document["paths"]["/api/stations/{station_id}/commands/Reset"]["post"]
    v16, v201 = reset["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert v16["properties"]["type"]["enum"] == ["Hard", "Soft"] and v16["required"] == ["type"]
    assert v201["properties"]["type"]["enum"] == ["Immediate", "OnIdle"]
    reply = reset["responses"]["200"]["content"]["application/json"]["schema"]
    v16_reply = reply["properties"]["payload"]["anyOf"][0]
    assert v16_reply["properties"]["status"]["enum"] == ["Accepted", "Rejected"]
    get_variables = document["paths"]["/api/stations/{station_id}/commands/GetVariables"]["post"]
    only_201 = get_variables["requestBody"]["content"]["application/json"]["schema"]
    assert only_201["required"] == ["getVariableData"]
    assert {"401", "404", "409", "422", "429", "502", "504"} <= set(reset["responses"])
    get_log = document["paths"]["/api/stations/{station_id}/commands/GetLog"]["post"]
    log = get_log["requestBody"]["content"]["application/json"]["schema"]["anyOf"][0]["properties"]["log"]
    assert log["required"] == ["remoteLocation"], "security-extension refs are inlined"


def unlimited(config: Config) -> Config:
    """``config`` without the per-token rate limit: schemathesis's requests must reach the routes'
    logic, not stop at 429."""
    return replace(config, api=replace(config.api, rate_limit=1e9, rate_burst=10**9))


async def test_schemathesis_finds_no_undocumented_answer(tmp_path: Path) -> None:
    """Every operation, positive and negative data, with a live station behind "CP-1" (the example id).

    The station is the ``ocpp`` package's client: it answers the security-extension actions with
    CALLERROR (502) and leaves some odd but schema-valid payloads unanswered, so the call timeout is
    short enough for those 504s to come well within schemathesis's request timeout.
    """
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is not installed in this environment"
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    data = tmp_path / "data"
    async with (
        open_csms(unlimited(api_config(data, default=StationPolicy(call_timeout=2)))) as csms,
        peer_station(url_of(csms), "CP-1") as peer,
    ):
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        result = await trio.run_process(
            [
                st,
                "--config-file", str(config),
                "--no-color",
                "run", f"http://127.0.0.1:{csms.api_port}/openapi.json",
                "--header", f"Authorization: Bearer {TOKEN}",
                "--checks", "all",
                "--max-examples", "8",
                "--max-time", "25",
                "--seed", "1",
                "--workers", "1",
                "--request-timeout", "20",
                "--generation-database", "none",
            ],
            cwd=tmp_path,
            capture_stdout=True,
            stderr=subprocess.STDOUT,
            check=False,
        )  # fmt: skip
    output = result.stdout.decode(errors="replace")
    assert result.returncode == 0, output[-20000:]
    assert "passed" in output
