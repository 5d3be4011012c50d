"""Broken upgrade requests get an HTTP answer, never silence or a traceback; dot segments are no ids.

Before: a raw space in the request line got no response and an AssertionError traceback in the log
(websockets had already half-closed and our 400 tripped its assertion); an overlong request line the
same; ``/ocpp/..`` was accepted as a station named "..".
"""

from __future__ import annotations

import logging

import pytest
import trio

from adapters.csms import Csms

HEADERS = (
    b"Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
)


async def exchange(csms: Csms, request_line: bytes) -> bytes:
    """Send one upgrade request and read the answer until the server closes."""
    assert csms.ocpp_port is not None
    stream = await trio.open_tcp_stream("127.0.0.1", csms.ocpp_port)
    answer = b""
    with trio.fail_after(20):
        await stream.send_all(request_line + HEADERS)
        while chunk := await stream.receive_some(65536):
            answer += chunk
    await stream.aclose()
    return answer


@pytest.mark.parametrize(
    ("request_line", "statuses"),
    [
        (b"GET /ocpp/CP 1 HTTP/1.1\r\n", (b"400",)),
        (b"GET /ocpp/" + b"A" * 20_000 + b" HTTP/1.1\r\n", (b"414", b"400")),
        (b"GET /ocpp/.. HTTP/1.1\r\n", (b"404",)),
        (b"GET /ocpp/. HTTP/1.1\r\n", (b"404",)),
        (b"GET /ocpp/%2e%2e HTTP/1.1\r\n", (b"404",)),
        (b"GET /ocpp/%2E HTTP/1.1\r\n", (b"404",)),
    ],
    ids=["raw-space", "overlong", "dotdot", "dot", "encoded-dotdot", "encoded-dot"],
)
async def test_a_bad_upgrade_request_is_answered_and_logs_no_traceback(
    csms: Csms, caplog: pytest.LogCaptureFixture, request_line: bytes, statuses: tuple[bytes, ...]
) -> None:
    caplog.set_level(logging.INFO, logger="chargeward")
    answer = await exchange(csms, request_line)
    assert answer.split(b" ", 2)[1] in statuses, answer[:200]
    assert not [r for r in caplog.records if r.exc_info], "no traceback in the log"
    assert csms.fleet.station_ref("..") is None and csms.fleet.station_ref(".") is None
    # the server still upgrades a good request after the bad one
    good = await exchange_until_upgraded(csms)
    assert good.startswith(b"HTTP/1.1 101"), good[:200]


async def exchange_until_upgraded(csms: Csms) -> bytes:
    assert csms.ocpp_port is not None
    stream = await trio.open_tcp_stream("127.0.0.1", csms.ocpp_port)
    answer = b""
    with trio.fail_after(20):
        await stream.send_all(b"GET /ocpp/GOOD-1 HTTP/1.1\r\n" + HEADERS)
        while b"\r\n\r\n" not in answer:
            answer += await stream.receive_some(65536)
    await stream.aclose()
    return answer
