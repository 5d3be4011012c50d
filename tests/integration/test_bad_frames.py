"""Frames that are not OCPP at all get a CALLERROR, are counted, and the station stays connected.

Before, a frame whose unique id could not be read (not JSON, not an array, nested too deep, NaN, a
binary message) got no answer at all: the station waited for its own timeout and the operator saw
nothing. OCPP 2.0.1 (section 4.2.3) prescribes a CALLERROR with the message id "-1" for these.
"""

from __future__ import annotations

import json

import pytest
import trio
import trio_websocket

from actors.events.station import FrameReceived
from adapters.csms import Csms
from tests.integration.conftest import url_of

BAD_FRAMES: list[tuple[str | bytes, str]] = [
    ("{not json", "FormationViolation"),
    ('{"a": 1}', "ProtocolError"),
    ("[" * 1000 + "]" * 1000, "FormationViolation"),
    ('[2,"n1","Heartbeat",{"x":NaN}]', "FormationViolation"),
    (b'[2,"b1","Heartbeat",{}]', "FormationViolation"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES, ids=["garbage", "object", "deep", "nan", "binary"])
async def test_a_frame_without_a_readable_id_gets_callerror_minus_one(
    csms: Csms, frame: str | bytes, code: str
) -> None:
    async with trio_websocket.open_websocket_url(f"{url_of(csms)}/BAD-1", subprotocols=["ocpp1.6"]) as ws:
        await ws.send_message(frame)
        with trio.fail_after(20):
            answer = json.loads(await ws.get_message())
        assert answer[:3] == [4, "-1", code], answer
        await ws.send_message('[2,"probe","Heartbeat",{}]')
        with trio.fail_after(20):
            probe = json.loads(await ws.get_message())
        assert probe[:2] == [3, "probe"], "the station is kept"
    assert csms.fleet.stats.frames_in[("invalid", "error")] == 1
    assert csms.fleet.stats.call_errors[code] == 1
    records = await csms.store.read_stream("station/BAD-1")
    received = [r for r in records if r.type == FrameReceived.TYPE and r.data.get("error") == code]
    assert [r.data["text"] for r in received] == [frame], "the bad frame is in the log as it came"
