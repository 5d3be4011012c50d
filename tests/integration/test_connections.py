"""Handshake rules, connection replacement, frame limits, and a server restart mid-transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket

from actors.commands import Command, UnknownStation
from actors.events.station import StationConnected, StationDisconnected, TransactionStopped
from adapters.csms import Csms, open_csms
from adapters.ocpp_server import BadStationPath, station_id_from_path
from tests.integration.conftest import disconnected, make_config, url_of
from tests.integration.peer import peer_station

NOW = "2026-11-21T10:00:00Z"


async def exchange(ws: trio_websocket.WebSocketConnection, frame: list[Any]) -> list[Any]:
    await ws.send_message(json.dumps(frame))
    with trio.fail_after(10):
        reply: list[Any] = json.loads(await ws.get_message())
    return reply


@pytest.mark.parametrize(
    ("path", "station"),
    [
        ("/ocpp/CP-1", "CP-1"),
        ("/ocpp/CP%201", None),
        ("/ocpp/abc%3Adef", "abc:def"),
        ("/ocpp/a/b", None),
        ("/x/CP", None),
    ],
)
def test_station_ids_from_paths(path: str, station: str | None) -> None:
    if station is None:
        with pytest.raises(BadStationPath):
            station_id_from_path(path)
    else:
        assert station_id_from_path(path) == station


async def test_a_client_without_a_supported_subprotocol_gets_a_clear_http_error(csms: Csms) -> None:
    with pytest.raises(trio_websocket.ConnectionRejected) as rejected:
        async with trio_websocket.open_websocket_url(f"{url_of(csms)}/CP-1", subprotocols=["ocpp2.1"]):
            pass
    assert rejected.value.status_code == 400
    assert b"no supported OCPP subprotocol" in (rejected.value.body or b"")
    with pytest.raises(trio_websocket.ConnectionRejected) as not_found:
        async with trio_websocket.open_websocket_url(
            f"ws://127.0.0.1:{csms.ocpp_port}/elsewhere/CP-1", subprotocols=["ocpp1.6"]
        ):
            pass
    assert not_found.value.status_code == 404


async def test_a_second_connection_replaces_the_first_and_the_log_shows_both(csms: Csms) -> None:
    url = f"{url_of(csms)}/TWICE"
    async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as first:
        assert (await exchange(first, [2, "a", "Heartbeat", {}]))[0] == 3
        async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as second:
            with trio.fail_after(10), pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await first.get_message()
            assert closed.value.reason is not None and "replaced" in (closed.value.reason.reason or "")
            assert (await exchange(second, [2, "b", "Heartbeat", {}]))[0] == 3
    await disconnected(csms, "TWICE")
    records = await csms.store.read_stream("station/TWICE")
    lifecycle = [
        (r.type, r.data["conn"])
        for r in records
        if r.type in (StationConnected.TYPE, StationDisconnected.TYPE)
    ]
    assert lifecycle == [
        (StationConnected.TYPE, 1),
        (StationDisconnected.TYPE, 1),
        (StationConnected.TYPE, 2),
        (StationDisconnected.TYPE, 2),
    ]
    assert (
        "replaced by connection 2"
        in records[[r.type for r in records].index(StationDisconnected.TYPE)].data["reason"]
    )


async def test_an_oversized_frame_closes_cleanly_and_the_server_stays_up(csms: Csms) -> None:
    url = f"{url_of(csms)}/BIG"
    async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as ws:
        await exchange(ws, [2, "a", "Heartbeat", {}])
        await ws.send_message(json.dumps([2, "b", "DataTransfer", {"vendorId": "x", "data": "y" * 100_000}]))
        with trio.fail_after(10), pytest.raises(trio_websocket.ConnectionClosed) as closed:
            await ws.get_message()
        assert closed.value.reason is not None and closed.value.reason.code == 1009
    async with trio_websocket.open_websocket_url(url, subprotocols=["ocpp1.6"]) as again:
        assert (await exchange(again, [2, "c", "Heartbeat", {}]))[0] == 3


async def test_restart_mid_transaction(tmp_path: Path) -> None:
    """Stop the server under a charging station; after the restart its transaction is still known."""
    config = make_config(tmp_path)
    async with trio.open_nursery() as outer:
        async with open_csms(config) as first:

            async def charging_station(task_status: Any) -> None:
                async with peer_station(url_of(first), "RESTART-1") as peer:
                    await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
                    started = await peer.call(
                        "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=500, timestamp=NOW
                    )
                    task_status.started(started["transaction_id"])
                    await trio.sleep_forever()

            tx_before = await outer.start(charging_station)
        # the server is gone while the station was still connected
        outer.cancel_scope.cancel()

    async with open_csms(config) as second, peer_station(url_of(second), "RESTART-1") as peer:
        await peer.call("BootNotification", charge_point_vendor="Acme", charge_point_model="M")
        stopped = await peer.call(
            "StopTransaction", transaction_id=tx_before, meter_stop=2500, timestamp=NOW, id_tag="TAG-OK"
        )
        assert stopped["id_tag_info"]["status"] == "Accepted"
        started = await peer.call(
            "StartTransaction", connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=NOW
        )
        assert started["transaction_id"] > tx_before
        records = await second.store.read_stream("station/RESTART-1")
        stop = next(r.data for r in records if r.type == TransactionStopped.TYPE)
        assert stop["known"] is True and stop["energy_wh"] == 2000.0
        # The stop was ordered: the connection detached from its running actor, which recorded it.
        reasons = [r.data["reason"] for r in records if r.type == StationDisconnected.TYPE]
        assert reasons == ["server shutting down"]


@pytest.mark.parametrize(
    "opening",
    [
        b"",  # a port probe: connect, close
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello to a plain port
        b"GET /ocpp/HALF HTTP/1.1\r\nHost: x\r\n",  # half a request, then gone
        b"GET /ocpp/CP HTTP/1.1\r\nHost: x\r\n\r\n",  # plain HTTP, no upgrade
        b"NONSENSE\r\n\r\n",
    ],
)
async def test_odd_clients_never_take_the_server_down(csms: Csms, opening: bytes) -> None:
    assert csms.ocpp_port is not None
    stream = await trio.open_tcp_stream("127.0.0.1", csms.ocpp_port)
    if opening:
        await stream.send_all(opening)
    await stream.send_eof()
    with trio.fail_after(5):
        answer = b""
        while chunk := await stream.receive_some(4096):
            answer += chunk
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:80]
    await stream.aclose()
    async with trio_websocket.open_websocket_url(f"{url_of(csms)}/AFTER", subprotocols=["ocpp1.6"]) as ws:
        assert (await exchange(ws, [2, "1", "Heartbeat", {}]))[0] == 3


async def test_connector_ids_are_bounded_and_huge_integers_are_kept(csms: Csms) -> None:
    """A station cannot conjure thousands of connector actors; a 2**70 transaction id is logged exactly."""
    async with trio_websocket.open_websocket_url(f"{url_of(csms)}/BIGNUM", subprotocols=["ocpp1.6"]) as ws:
        refused = await exchange(
            ws,
            [
                2,
                "1",
                "StatusNotification",
                {"connectorId": 2**70, "errorCode": "NoError", "status": "Available"},
            ],
        )
        assert refused[:3] == [4, "1", "PropertyConstraintViolation"] and "limit of 64" in refused[3]
        stopped = await exchange(
            ws,
            [
                2,
                "2",
                "StopTransaction",
                {"transactionId": 2**70, "meterStop": 5, "timestamp": "2026-11-21T10:00:00Z"},
            ],
        )
        assert stopped[0] == 3
        assert (await exchange(ws, [2, "3", "Heartbeat", {}]))[0] == 3
    stop = next(
        r for r in await csms.store.read_stream("station/BIGNUM") if r.type == TransactionStopped.TYPE
    )
    assert stop.data["transaction_id"] == 2**70 and stop.data["known"] is False
    assert csms.fleet.stations() == ["BIGNUM"]


async def test_an_impossible_station_id_is_an_unknown_station(csms: Csms) -> None:
    with pytest.raises(UnknownStation, match="no station can have"):
        await csms.station(" spaced\n").call(Command("Reset", {"type": "Soft"}))
