"""ModbusLine against real peers: pymodbus's own server in a subprocess, and misbehaving trio servers."""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable
from functools import partial

import pytest
import trio
import trio.testing

from actors.device_link import (
    DeviceDisconnected,
    DeviceExceptionResponse,
    DeviceLinkError,
    DeviceTimeout,
    RegisterFunction,
)
from actors.registers import DataType, WordOrder, decode_raw, encode_raw
from adapters.modbus import Backoff, Exchange, Framing, ModbusLine, ModbusMeter, tcp_connector
from adapters.profile_loader import load_shipped_profile
from bench.modbus_sim import ModbusSimServer, SimulatedCharger
from tests.modbus.conftest import Peer
from tests.modbus.peer_server import LAYOUT, UNIT2_VALUE, WRITABLE

FRAMERS = [("socket", Framing.SOCKET), ("rtu", Framing.RTU)]
HOLDING = RegisterFunction.HOLDING


def quick_line(port: int, framing: Framing = Framing.SOCKET, timeout: float = 1.0) -> ModbusLine:
    return ModbusLine(
        tcp_connector("127.0.0.1", port),
        framing,
        timeout=timeout,
        backoff=Backoff(0.02, 0.2, rng=random.Random(1)),
    )


async def until_answering(line: ModbusLine, unit: int = 2, address: int = 0, limit: float = 20.0) -> None:
    """Poll until the peer answers (a subprocess takes a moment to listen); fail after ``limit`` s."""
    with trio.fail_after(limit):
        while True:
            try:
                await line.read(unit, HOLDING, address, 1)
                return
            except DeviceDisconnected:
                await trio.sleep(0.05)


@pytest.mark.parametrize(("framer", "framing"), FRAMERS)
async def test_reads_every_type_and_word_order(
    peer_factory: Callable[[str], Peer], framer: str, framing: Framing
) -> None:
    peer: Peer = peer_factory(framer)
    line = quick_line(peer.port, framing)
    await until_answering(line)
    for address, ours, _, order, value in LAYOUT:
        dtype = DataType(ours)
        for function in RegisterFunction:
            words = await line.read(1, function, address, dtype.register_count)
            assert decode_raw(words, dtype, WordOrder(order)) == value, (address, ours, order)
    await line.aclose()


@pytest.mark.parametrize(("framer", "framing"), FRAMERS)
async def test_writes_then_reads_back_and_exceptions_keep_the_stream(
    peer_factory: Callable[[str], Peer], framer: str, framing: Framing
) -> None:
    peer: Peer = peer_factory(framer)
    line = quick_line(peer.port, framing)
    await until_answering(line)
    words = encode_raw(-12.75, DataType.FLOAT32, WordOrder.LITTLE) + encode_raw(-5, DataType.S16)
    await line.write(1, WRITABLE, words)
    back = await line.read(1, HOLDING, WRITABLE, 3)
    assert decode_raw(back[:2], DataType.FLOAT32, WordOrder.LITTLE) == -12.75
    assert decode_raw(back[2:], DataType.S16) == -5

    with pytest.raises(DeviceExceptionResponse) as refused:
        await line.read(1, HOLDING, 40, 2)  # past the peer's layout
    assert (refused.value.unit, refused.value.function_code, refused.value.exception_code) == (1, 3, 2)
    with pytest.raises(DeviceExceptionResponse) as refused_write:
        await line.write(1, 60, [1])
    assert refused_write.value.exception_code == 2
    # An exception response is an answer: the stream stays up and the next request works.
    assert line.connected and line.stats.disconnects == 0
    assert await line.read(2, HOLDING, 0, 1) == [UNIT2_VALUE]
    await line.aclose()


async def test_units_share_one_connection_with_requests_serialised(
    peer_factory: Callable[[str], Peer],
) -> None:
    peer: Peer = peer_factory("socket")
    line = quick_line(peer.port)
    await until_answering(line)
    expected_unit1 = await line.read(1, HOLDING, 0, 2)
    results: list[tuple[int, list[int]]] = []

    async def poll(unit: int) -> None:
        for _ in range(10):
            results.append((unit, await line.read(unit, HOLDING, 0, 1 if unit == 2 else 2)))

    async with trio.open_nursery() as nursery:
        for unit in (1, 2, 1, 2):
            nursery.start_soon(poll, unit)
    assert len(results) == 40
    assert all(words == ([UNIT2_VALUE] if unit == 2 else expected_unit1) for unit, words in results)
    assert line.stats.connects == 1


async def test_device_going_away_and_coming_back(peer_factory: Callable[[str], Peer]) -> None:
    peer: Peer = peer_factory("socket")
    line = quick_line(peer.port, timeout=0.5)
    await until_answering(line)
    peer.stop()
    failures = 0
    for _ in range(5):
        started = trio.current_time()
        with pytest.raises(DeviceLinkError):
            await line.read(2, HOLDING, 0, 1)
        assert trio.current_time() - started < 0.5 + 0.3  # never longer than one timeout
        failures += 1
        await trio.sleep(0.05)
    assert not line.connected and failures == 5
    peer.start()
    await until_answering(line)
    assert await line.read(2, HOLDING, 0, 1) == [UNIT2_VALUE]
    assert line.stats.connects == 2 and line.stats.failed_connects >= 1
    await line.aclose()


async def test_slow_device_times_out_and_recovers() -> None:
    charger = SimulatedCharger(meter_unit=1, evse_unit=2)
    charger.start()
    server = ModbusSimServer(charger.devices(), response_delay=1.0)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve_tcp)
        line = quick_line(port, timeout=0.2)
        started = trio.current_time()
        with pytest.raises(DeviceTimeout):
            await line.read(2, HOLDING, 1000, 1)
        assert trio.current_time() - started < 0.5
        assert not line.connected and line.stats.timeouts == 1
        server.response_delay = 0.0
        await until_answering(line, unit=2, address=1000, limit=5.0)
        assert await line.read(2, HOLDING, 1000, 1) == [0]
        await line.aclose()
        nursery.cancel_scope.cancel()


async def _garbage_server(payload: bytes, stream: trio.abc.Stream) -> None:
    async with stream:
        try:
            await stream.receive_some(512)
            if payload:
                await stream.send_all(payload)
            await trio.sleep_forever()
        except trio.BrokenResourceError:
            return


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (bytes.fromhex("0001 0007 0005 02 0302 0001"), DeviceDisconnected),  # non-zero protocol id
        (bytes.fromhex("0001 0000 0400 02 03"), DeviceDisconnected),  # absurd length
        (bytes.fromhex("0001 0000 0005 09 0302 0001"), DeviceDisconnected),  # another unit's answer
        (bytes.fromhex("0001 0000 0003 02 83"), DeviceTimeout),  # truncated, then silence
        (b"", DeviceTimeout),  # connected, never answers
        *((random.Random(seed).randbytes(64), DeviceLinkError) for seed in range(3)),
    ],
)
async def test_garbage_or_stalled_stream_is_dropped_never_hangs(payload: bytes, error: type) -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_tcp, partial(_garbage_server, payload), 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        line = quick_line(port, timeout=0.3)
        started = trio.current_time()
        with pytest.raises(error):
            await line.read(2, HOLDING, 0, 1)
        assert trio.current_time() - started < 0.6
        assert not line.connected
        assert line.stats.garbled + line.stats.timeouts + line.stats.disconnects >= 1
        nursery.cancel_scope.cancel()


async def test_sim_meter_over_rtu_on_a_pty_serial_line() -> None:
    """RTU framing and termios setup over a tty pair: our line on the slave, the simulator on the master."""
    from adapters.modbus import rtu_frame_gap, serial_connector

    master, slave = os.openpty()
    charger = SimulatedCharger(meter_unit=1, evse_unit=2)
    charger.start()
    server = ModbusSimServer(charger.devices(), Framing.RTU)
    line = ModbusLine(
        serial_connector(os.ttyname(slave), 19200), Framing.RTU, timeout=0.3, frame_gap=rtu_frame_gap(19200)
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.handle_stream, trio.lowlevel.FdStream(master))
            await line.write(2, 1000, [10])
            reading = await ModbusMeter(line, 1, load_shipped_profile("eastron_sdm630")).poll()
            assert reading.value_of("Current.Import", "L1") == 10.0
            with pytest.raises(DeviceTimeout):
                await line.read(9, HOLDING, 0, 1)  # an absent unit on a bus is silence
            # ... which must not take its neighbours on the bus offline.
            assert line.connected
            assert await line.read(2, HOLDING, 1000, 1) == [10]
            await line.aclose()
            nursery.cancel_scope.cancel()
    finally:
        os.close(slave)


async def test_rtu_gateway_keeps_the_stream_for_one_silent_unit_but_not_for_a_dead_line() -> None:
    charger = SimulatedCharger(meter_unit=1, evse_unit=2)
    charger.start()
    server = ModbusSimServer(charger.devices(), Framing.RTU)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve_tcp)
        line = quick_line(port, Framing.RTU, timeout=0.1)
        for _ in range(2):
            with pytest.raises(DeviceTimeout):
                await line.read(9, HOLDING, 0, 1)
            assert await line.read(2, HOLDING, 1003, 1) == [32]  # the neighbour answers at once
        assert line.connected and line.stats.connects == 1
        for _ in range(3):  # three silences in a row: the line itself is presumed dead
            with pytest.raises(DeviceTimeout):
                await line.read(9, HOLDING, 0, 1)
        assert not line.connected and line.stats.disconnects == 1
        await until_answering(line, unit=2, address=1003, limit=5.0)
        assert line.stats.connects == 2
        await line.aclose()
        nursery.cancel_scope.cancel()


async def test_observer_sees_every_exchange_and_bad_input_is_refused_before_any_io(
    peer_factory: Callable[[str], Peer],
) -> None:
    peer: Peer = peer_factory("socket")
    seen: list[Exchange] = []
    line = ModbusLine(tcp_connector("127.0.0.1", peer.port), observer=seen.append, backoff=Backoff(0.02, 0.2))
    await until_answering(line)
    seen.clear()
    await line.read(2, HOLDING, 0, 1)
    with pytest.raises(DeviceExceptionResponse):
        await line.read(1, HOLDING, 40, 2)
    assert [exchange.answer for exchange in seen] == [(UNIT2_VALUE,), None]
    assert isinstance(seen[1].error, DeviceExceptionResponse)
    first = seen[0]
    assert (first.request.unit, first.request.function_code, first.request.address) == (2, 3, 0)
    assert first.sent[6] == 2 and first.received[6] == 2  # the MBAP unit byte, both ways
    assert len(first.received) == 7 + 2 + 2  # MBAP header, function and byte count, one register
    assert all(exchange.elapsed >= 0 for exchange in seen)
    assert line.stats.exception_responses == 1
    peer.stop()
    for bad in (partial(line.read, 300, HOLDING, 0, 1), partial(line.write, 1, 0, [])):
        with pytest.raises(ValueError):
            await bad()
    await line.aclose()


async def test_reconnect_attempts_are_spaced_by_the_jittered_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    attempts: list[float] = []

    async def refuse() -> trio.abc.Stream:
        attempts.append(trio.current_time())
        raise OSError("connection refused")

    line = ModbusLine(refuse, backoff=Backoff(0.1, 1.0, rng=random.Random(3)))
    for _ in range(400):  # an actor polling every 10 ms for 4 s
        with pytest.raises(DeviceDisconnected):
            await line.read(1, HOLDING, 0, 1)
        await trio.sleep(0.01)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    steps = [min(1.0, 0.1 * 2**n) for n in range(len(gaps))]
    assert all(step / 2 <= gap <= step + 0.011 for gap, step in zip(gaps, steps, strict=True))
    assert 6 <= len(attempts) <= 12 and line.stats.failed_connects == len(attempts)


async def test_a_connect_that_never_completes_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    async def blackhole() -> trio.abc.Stream:
        await trio.sleep_forever()

    line = ModbusLine(blackhole, timeout=0.5)
    started = trio.current_time()
    with pytest.raises(DeviceDisconnected, match="cannot connect"):
        await line.read(1, HOLDING, 0, 1)
    assert trio.current_time() - started == pytest.approx(0.5)
