"""Fuzzed frames never kill a station: each gets the right CALLERROR or nothing, the connection stays up,
and nothing already acknowledged is lost. A frame whose unique id cannot be read (not JSON, not an
array, nested too deep, NaN, binary) gets a CALLERROR with the id "-1", one per such frame."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, NoReturn

import trio
import trio_websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.events.station import FrameSent
from adapters.csms import Csms, open_csms
from tests.integration.conftest import make_config, url_of

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
actions = st.sampled_from(
    ["Heartbeat", "MeterValues", "StatusNotification", "BootNotification", "Teleport", ""]
)
ids = st.text(min_size=1, max_size=10).filter(lambda s: s not in ("probe", "-1"))

frames = st.one_of(
    st.text(max_size=60),  # not JSON, or JSON of the wrong shape
    json_values.map(json.dumps),
    st.tuples(st.just(2), ids, actions, json_values).map(
        lambda f: json.dumps(list(f))
    ),  # CALLs, bad payloads
    st.tuples(st.sampled_from([3, 4, 5, "2"]), ids, json_values).map(lambda f: json.dumps(list(f))),
    st.tuples(st.just(2), ids, actions, st.just({})).map(lambda f: json.dumps(list(f))[:-3]),  # truncated
    st.integers(min_value=1, max_value=2000).map(lambda depth: "[" * depth + "]" * depth),  # deep
    st.tuples(st.just(2), ids, actions).map(lambda f: json.dumps([*f, {"v": float("nan")}])),  # NaN
    st.tuples(st.just(2), ids, actions, json_values).map(lambda f: json.dumps(list(f)).encode()),  # binary
)


def _refuse(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


def id_unreadable(frame: str | bytes) -> bool:
    """True for a frame the server cannot take a unique id from: it must answer with the id "-1".

    An empty string is no id either: a CALLERROR echoing it could not be matched to anything.
    """
    if isinstance(frame, bytes):
        return True
    try:
        message = json.loads(frame, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return True
    if not isinstance(message, list) or len(message) < 2:
        return True
    return not (isinstance(message[1], str) and message[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(frames, min_size=1, max_size=5))
def test_fuzzed_frames_get_callerror_or_silence_and_the_station_lives(
    tmp_path_factory: Any, batch: list[str | bytes]
) -> None:
    """Each example gets a fresh server on an in-memory store (pytest-trio runs examples apart)."""
    config = replace(make_config(tmp_path_factory.mktemp("fuzz")), store_url="memory://")

    async def scenario() -> None:
        async with open_csms(config) as csms:
            await fuzz(csms, batch)

    trio.run(scenario)


BOOT_16 = '[2,"boot","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
BOOT_201 = (
    '[2,"boot","BootNotification",{"chargingStation":{"vendorName":"V","model":"M"},"reason":"PowerUp"}]'
)


async def fuzz(
    csms: Csms, batch: list[str | bytes], subprotocol: str = "ocpp1.6", boot: str = BOOT_16
) -> None:
    async with trio_websocket.open_websocket_url(f"{url_of(csms)}/FUZZ", subprotocols=[subprotocol]) as ws:
        assert ws.subprotocol == subprotocol
        await ws.send_message(boot)
        await ws.get_message()
        acknowledged = await csms.store.read_stream("station/FUZZ")
        for text in batch:
            await ws.send_message(text)
        await ws.send_message('[2,"probe","Heartbeat",{}]')
        answers: list[list[Any]] = []
        with trio.fail_after(10):
            while True:
                reply = json.loads(await ws.get_message())
                if reply[1] == "probe":
                    break
                answers.append(reply)
        assert reply[0] == 3, "the connection still works after the fuzz"
        for answer in answers:
            assert answer[0] in (3, 4), answer  # a CALLRESULT only for a valid call
            if answer[0] == 4:
                assert answer[2] in (ERROR_CODES_201 if subprotocol == "ocpp2.0.1" else ERROR_CODES), answer
        unanswerable = [answer for answer in answers if answer[1] == "-1"]
        assert len(unanswerable) == sum(map(id_unreadable, batch)), (batch, answers)
    records = await csms.store.read_stream("station/FUZZ")
    assert records[: len(acknowledged)] == acknowledged, "nothing acknowledged before the fuzz is lost"
    sent = [r for r in records if r.type == FrameSent.TYPE]
    assert len(sent) >= len(answers) + 2, "every reply the client got is in the log"
    ref = csms.fleet.station_ref("FUZZ")
    assert ref is not None and ref.alive
    assert csms.runtime.stats.restarts["station"] == 0


ERROR_CODES = {
    "NotImplemented",
    "NotSupported",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "ProtocolError",
    "GenericError",
    "SecurityError",
    "InternalError",
}
ERROR_CODES_201 = ERROR_CODES - {"FormationViolation"} | {"FormatViolation"}

actions_201 = st.sampled_from(
    [
        "TransactionEvent",
        "NotifyReport",
        "StatusNotification",
        "Authorize",
        "StartTransaction",
        "GetVariables",
    ]
)
TX = {
    "eventType": "Started",
    "timestamp": "2026-11-27T08:00:00Z",
    "triggerReason": "Authorized",
    "seqNo": 0,
    "transactionInfo": {"transactionId": "T"},
}
# Schema-valid TransactionEvents with one field replaced by anything: the decisions see odd but
# valid payloads (and the validator the invalid ones).
mutated_tx = st.tuples(st.sampled_from(sorted(TX)), json_values).map(lambda kv: {**TX, kv[0]: kv[1]})
frames_201 = st.one_of(
    frames,
    st.tuples(st.just(2), ids, actions_201, json_values).map(lambda f: json.dumps(list(f))),
    st.tuples(st.just(2), ids, st.just("TransactionEvent"), mutated_tx).map(lambda f: json.dumps(list(f))),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(frames_201, min_size=1, max_size=5))
def test_fuzzed_201_frames_get_callerror_or_silence_and_the_station_lives(
    tmp_path_factory: Any, batch: list[str | bytes]
) -> None:
    config = replace(make_config(tmp_path_factory.mktemp("fuzz201")), store_url="memory://")

    async def scenario() -> None:
        async with open_csms(config) as csms:
            await fuzz(csms, batch, "ocpp2.0.1", BOOT_201)

    trio.run(scenario)
