"""The Shelly Pro 3EM meter against a local HTTP/1.1 server serving recorded RPC answers.

The answers follow the shape in Shelly's Gen2 API documentation for EM.GetStatus and
EMData.GetStatus (Pro 3EM, firmware 1.x), with plausible values of a car charging on 3 phases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

import h11
import pytest
import trio

from actors.device_link import DeviceDisconnected, DeviceTimeout, MeterSource
from adapters.shelly import ShellyPro3EM, reading_from_status

EM_STATUS: dict[str, object] = {
    "id": 0,
    "a_current": 15.94, "a_voltage": 231.2, "a_act_power": 3662.1, "a_aprt_power": 3685.3,
    "a_pf": 0.99, "a_freq": 50.0,
    "b_current": 15.88, "b_voltage": 230.4, "b_act_power": 3635.6, "b_aprt_power": 3658.8,
    "b_pf": 0.99, "b_freq": 50.0,
    "c_current": 16.02, "c_voltage": 229.8, "c_act_power": 3657.4, "c_aprt_power": 3681.4,
    "c_pf": 0.99, "c_freq": 50.0,
    "n_current": None,
    "total_current": 47.84, "total_act_power": 10955.1, "total_aprt_power": 11025.5,
    "user_calibrated_phase": [],
}  # fmt: skip
EMDATA_STATUS: dict[str, object] = {
    "id": 0,
    "a_total_act_energy": 402113.52, "a_total_act_ret_energy": 0.0,
    "b_total_act_energy": 398744.17, "b_total_act_ret_energy": 0.0,
    "c_total_act_energy": 401987.05, "c_total_act_ret_energy": 0.0,
    "total_act": 1202844.74, "total_act_ret": 0.0,
}  # fmt: skip

Respond = Callable[[str], tuple[int, bytes]]


def recorded(target: str) -> tuple[int, bytes]:
    if target == "/rpc/EM.GetStatus?id=0":
        return 200, json.dumps(EM_STATUS).encode()
    if target == "/rpc/EMData.GetStatus?id=0":
        return 200, json.dumps(EMDATA_STATUS).encode()
    return 404, b'{"code":404,"message":"No handler for ' + target.encode() + b'"}'


async def http_server(respond: Respond, requests: list[str], stream: trio.abc.Stream) -> None:
    """A minimal HTTP/1.1 server with h11: one request per connection, as the client asks."""
    conn = h11.Connection(h11.SERVER)
    async with stream:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(bytes(await stream.receive_some(4096)))
            elif isinstance(event, h11.Request):
                target = event.target.decode()
                requests.append(target)
                status, body = respond(target)
                headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
                await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
                await stream.send_all(conn.send(h11.Data(data=body)) or b"")
                await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
                return


async def serve(nursery: trio.Nursery, respond: Respond, requests: list[str]) -> int:
    listeners = await nursery.start(
        partial(trio.serve_tcp, partial(http_server, respond, requests), 0, host="127.0.0.1")
    )
    port: int = listeners[0].socket.getsockname()[1]
    return port


async def test_poll_maps_both_rpc_answers_to_ocpp_samples() -> None:
    requests: list[str] = []
    async with trio.open_nursery() as nursery:
        port = await serve(nursery, recorded, requests)
        meter: MeterSource = ShellyPro3EM("127.0.0.1", port)
        reading = await meter.poll()
        nursery.cancel_scope.cancel()
    assert requests == ["/rpc/EM.GetStatus?id=0", "/rpc/EMData.GetStatus?id=0"]
    assert reading.value_of("Voltage", "L2-N") == 230.4
    assert reading.value_of("Current.Import", "L3") == 16.02
    assert reading.value_of("Power.Active.Import") == 10955.1
    assert reading.value_of("Energy.Active.Import.Register") == 1202844.74
    assert reading.value_of("Energy.Active.Import.Register", "L1") == 402113.52
    assert reading.value_of("Current.Import", "N") is None  # null in the answer: no sample
    units = {sample.name: sample.unit for sample in reading.samples}
    assert (units["total_act"], units["a_freq"], units["a_pf"]) == ("Wh", "Hz", "")


def _broken(status: int, body: bytes, target: str) -> tuple[int, bytes]:
    return status, body


@pytest.mark.parametrize(
    ("respond", "match"),
    [
        (partial(_broken, 401, b'{"code":401}'), "HTTP 401"),
        (partial(_broken, 200, b"<html>captive portal</html>"), "not JSON"),
        (partial(_broken, 200, b"[1, 2]"), "not a JSON object"),
        (
            partial(_broken, 200, json.dumps({**EM_STATUS, "a_voltage": "231.2"}).encode()),
            "a_voltage is '231.2'",
        ),
        (partial(_broken, 200, json.dumps({"id": 0}).encode()), "a_voltage is None"),
    ],
)
async def test_bad_answers_are_typed_errors(respond: Respond, match: str) -> None:
    async with trio.open_nursery() as nursery:
        port = await serve(nursery, respond, [])
        with pytest.raises(DeviceDisconnected, match=match):
            await ShellyPro3EM("127.0.0.1", port).poll()
        nursery.cancel_scope.cancel()


async def _silent(stream: trio.abc.Stream) -> None:
    async with stream:
        await trio.sleep_forever()


async def test_stalled_and_absent_devices() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, _silent, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        started = trio.current_time()
        with pytest.raises(DeviceTimeout):
            await ShellyPro3EM("127.0.0.1", port, timeout=0.2).poll()
        assert trio.current_time() - started < 0.5
        nursery.cancel_scope.cancel()
    with pytest.raises(DeviceDisconnected, match=r"Shelly 127\.0\.0\.1"):
        await ShellyPro3EM("127.0.0.1", port, timeout=0.5).poll()  # nothing listens there any more


def test_mapping_rejects_non_finite_numbers() -> None:
    with pytest.raises(DeviceDisconnected, match="total_act_power"):
        reading_from_status({**EM_STATUS, "total_act_power": float("nan")}, EMDATA_STATUS)


async def _raw(reply: bytes, stream: trio.abc.Stream) -> None:
    async with stream:
        await stream.receive_some(4096)
        await stream.send_all(reply)


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (b"\x16\x03\x01 not http at all\r\n\r\n", "RemoteProtocolError"),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"id": 0', "RemoteProtocolError"),  # cut short
        (b"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + b" " * 70000, "over 65536 bytes"),
    ],
)
async def test_garbled_or_oversized_http_is_a_typed_error(reply: bytes, match: str) -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, partial(_raw, reply), 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        with pytest.raises(DeviceDisconnected, match=match):
            await ShellyPro3EM("127.0.0.1", port, timeout=1.0).poll()
        nursery.cancel_scope.cancel()
