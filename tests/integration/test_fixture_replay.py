"""A real charger's session (shared/fixtures/ocpp16_chargedot_session.jsonl) against the server.

Lenient: every frame answered with a CALLRESULT and every repair recorded. Strict: the quirky
frames get the right CALLERROR and the connection stays up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio
import trio_websocket

from actors.events import IdToken, events_of
from actors.events.station import FrameReceived, MeterSampled, StationBooted, TransactionStopped
from actors.ocpp import Policy
from actors.policy import StationPolicy
from adapters.csms import Csms, open_csms
from tests.integration.conftest import make_config, url_of
from tests.shared_fixtures import CHARGEDOT_SESSION

FIXTURE = CHARGEDOT_SESSION


async def replay_fixture(csms: Csms, station_id: str) -> list[list[Any]]:
    """Send each frame in order (``$TX`` becomes the id the server gave); return the replies."""
    lines = [json.loads(line)["frame"] for line in FIXTURE.read_text().splitlines() if line.strip()]
    replies: list[list[Any]] = []
    tx: Any = None
    async with trio_websocket.open_websocket_url(
        f"{url_of(csms)}/{station_id}", subprotocols=["ocpp1.6"]
    ) as ws:
        for frame in lines:
            text = json.dumps(frame)
            if tx is not None:
                text = text.replace('"$TX"', str(tx))
            await ws.send_message(text)
            with trio.fail_after(10):
                reply = json.loads(await ws.get_message())
            assert reply[1] == frame[1], "each reply answers its own call"
            if frame[2] == "StartTransaction" and reply[0] == 3:
                tx = reply[2]["transactionId"]
            replies.append(reply)
    return replies


async def test_lenient_answers_everything_and_records_each_repair(csms: Csms) -> None:
    replies = await replay_fixture(csms, "CHARGEDOT-1")
    assert [r[0] for r in replies] == [3] * 13
    records = await csms.store.read_stream("station/CHARGEDOT-1")
    repairs = [
        (r.data["action"], rep["path"], rep["before"], rep["after"])
        for r in records
        if r.type == FrameReceived.TYPE
        for rep in r.data.get("repairs", ())
    ]
    assert (
        "BootNotification",
        "$.ChargeBoxSerialNumber",
        "ChargeBoxSerialNumber",
        "chargeBoxSerialNumber",
    ) in repairs
    assert any(a == "MeterValues" and before == "Hz" and after == "Hertz" for a, _, before, after in repairs)
    assert any(
        a == "MeterValues" and before == "Celcius" and after == "Celsius" for a, _, before, after in repairs
    )
    assert csms.fleet.stats.repairs[("Chargedot", "$.ChargeBoxSerialNumber")] == 1

    booted = next(r.data for r in records if r.type == StationBooted.TYPE)
    assert booted["serial"] == "TACW745020G0309"
    samples = [s for r in records if r.type == MeterSampled.TYPE for s in r.data["samples"]]
    energy = [s["value"] for s in samples if s["measurand"] == "Energy.Active.Import.Register"]
    assert energy == [6_089_000.0, 6_090_200.0], "kWh normalised to Wh"
    units = {s["measurand"]: s["unit"] for s in samples}
    assert units["Temperature"] == "Celsius" and units["Frequency"] == "Hertz"
    (stop,) = (e for r in records for e in events_of(r) if isinstance(e, TransactionStopped))
    assert (stop.id_token, stop.start_id_token, stop.known) == (
        IdToken("BLUE18721"),
        IdToken("TACW745020G0309"),
        True,
    )


async def test_strict_refuses_the_quirky_frames_and_keeps_the_connection(tmp_path: Path) -> None:
    config = make_config(tmp_path, stations={"CHARGEDOT-S": StationPolicy(validation=Policy.STRICT)})
    async with open_csms(config) as csms:
        replies = await replay_fixture(csms, "CHARGEDOT-S")
    errors = {i: (r[2], r[3]) for i, r in enumerate(replies) if r[0] == 4}
    assert errors.keys() == {0, 8}, errors
    assert errors[0][0] == "FormationViolation" and "ChargeBoxSerialNumber" in errors[0][1]
    assert errors[8][0] == "PropertyConstraintViolation" and "unit" in errors[8][1]
    assert replies[-1][0] == 3, "the connection stayed up to the end"
