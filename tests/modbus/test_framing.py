"""The sans-I/O client framing and the backoff, without sockets: two in-memory peers, h11 style."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

from actors.device_link import DeviceExceptionResponse, RegisterFunction
from adapters.modbus import Backoff, ClientFraming, Framing, GarbledFrame, read_request, write_request


def server_answer(framing: Framing, request: bytes, registers: list[int]) -> bytes:
    """What a pymodbus server framer would send back for a read request."""
    decoder = DecodePDU(is_server=True)
    framer = FramerSocket(decoder) if framing is Framing.SOCKET else FramerRTU(decoder)
    _, pdu = framer.handleFrame(request, 0, 0)
    assert pdu is not None
    answer = ReadHoldingRegistersResponse(
        registers=registers, dev_id=pdu.dev_id, transaction_id=pdu.transaction_id
    )
    return framer.buildFrame(answer)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(list(Framing)),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125),
    st.integers(1, 247),
    st.data(),
)
def test_answers_parse_however_the_bytes_are_split(
    framing: Framing, registers: list[int], unit: int, data: st.DataObject
) -> None:
    client = ClientFraming(framing)
    request = client.send(read_request(unit, RegisterFunction.HOLDING, 100, len(registers)))
    answer = server_answer(framing, request, registers)
    cuts = sorted(data.draw(st.lists(st.integers(1, len(answer) - 1), max_size=4, unique=True)))
    pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)], strict=True)]
    results = [client.receive(piece) for piece in pieces]
    assert results[:-1] == [None] * (len(pieces) - 1)
    assert results[-1] == registers


def test_exception_response_is_typed() -> None:
    client = ClientFraming(Framing.SOCKET)
    request = client.send(read_request(3, RegisterFunction.INPUT, 0, 2))
    refusal = ExceptionResponse(4, 2, device_id=3, transaction=int.from_bytes(request[:2], "big"))
    with pytest.raises(DeviceExceptionResponse) as caught:
        client.receive(FramerSocket(DecodePDU(is_server=True)).buildFrame(refusal))
    assert (caught.value.unit, caught.value.function_code, caught.value.exception_code) == (3, 4, 2)


def test_stale_transaction_and_stray_bytes_are_garbage() -> None:
    client = ClientFraming(Framing.SOCKET)
    first = client.send(read_request(1, RegisterFunction.HOLDING, 0, 1))
    stale = server_answer(Framing.SOCKET, first, [5])
    client.send(read_request(1, RegisterFunction.HOLDING, 0, 1))  # the first timed out; a second is in flight
    with pytest.raises(GarbledFrame, match="transaction"):
        client.receive(stale)
    client.reset()
    with pytest.raises(GarbledFrame, match="no request in flight"):
        client.receive(b"\x00")


def test_rtu_crc_error_is_garbage() -> None:
    client = ClientFraming(Framing.RTU)
    request = client.send(read_request(1, RegisterFunction.HOLDING, 0, 2))
    answer = bytearray(server_answer(Framing.RTU, request, [1, 2]))
    answer[-1] ^= 0xFF
    with pytest.raises(GarbledFrame):
        client.receive(bytes(answer))


def test_bad_requests_are_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="unit id"):
        read_request(300, RegisterFunction.HOLDING, 0, 1)
    with pytest.raises(ValueError, match="count"):
        read_request(1, RegisterFunction.HOLDING, 0, 126)
    with pytest.raises(ValueError, match="address"):
        read_request(1, RegisterFunction.HOLDING, 70000, 1)
    with pytest.raises(ValueError, match="register words"):
        write_request(1, 0, [70000])
    with pytest.raises(ValueError, match="register words"):
        write_request(1, 0, [])


def test_backoff_grows_with_jitter_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial=0.1, maximum=2.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(2000)]
    steps = [min(2.0, 0.1 * 2 ** min(n, 10)) for n in range(2000)]
    assert all(step / 2 <= delay <= step for delay, step in zip(delays, steps, strict=True))
    assert len(set(delays[10:20])) == 10  # jittered, not lock step
    backoff.reset()
    assert 0.05 <= backoff.next_delay() <= 0.1
    with pytest.raises(ValueError):
        Backoff(initial=0)
