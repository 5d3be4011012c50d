"""Sans-I/O Modbus client framing on pymodbus's PDU and framer classes.

:func:`read_request` and :func:`write_request` validate a request (bad input is a ValueError
before any I/O); :class:`ClientFraming` frames it with a transaction id and is fed received
bytes until it returns the answer to the one request in flight. Nothing here does I/O or reads
a clock, so it is testable without sockets and the trio driver (:mod:`adapters.modbus.line`)
stays thin.

pymodbus's framers wait forever on some malformed input (``FramerSocket`` reads a non-zero
protocol id as "need more data"; ``FramerRTU`` reports a CRC failure as "nothing decoded").
This class checks for those cases itself and raises :class:`GarbledFrame`, so the driver can
drop the stream at once instead of waiting for its timeout.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerBase, FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
)

from actors.device_link import DeviceExceptionResponse, RegisterFunction

#: An MBAP header plus the longest PDU; an RTU buffer this long without a frame is garbage.
_MAX_ADU = 260
_WRITE_CODE = WriteMultipleRegistersRequest.function_code


class Framing(enum.Enum):
    """How requests are framed on the wire."""

    #: Modbus TCP: MBAP header with transaction id, no CRC.
    SOCKET = "socket"
    #: Modbus RTU: unit id, PDU, CRC-16; on a serial line or tunnelled through a TCP gateway.
    RTU = "rtu"


class GarbledFrame(Exception):
    """The bytes received cannot be the answer to the request in flight."""


@dataclass(frozen=True, slots=True)
class Request:
    """A validated request, not yet framed: :meth:`ClientFraming.send` gives it a transaction id."""

    unit: int
    function_code: int
    address: int
    count: int
    pdu: bytes


@dataclass(frozen=True, slots=True)
class _Pending:
    request: Request
    transaction_id: int


def read_request(unit: int, function: RegisterFunction, address: int, count: int) -> Request:
    """Read ``count`` (1..125) registers of ``function`` at ``address``; ValueError if invalid."""
    pdu_class = (
        ReadHoldingRegistersRequest if function is RegisterFunction.HOLDING else ReadInputRegistersRequest
    )
    pdu = pdu_class(address=address, count=count, dev_id=_checked_unit(unit))
    pdu.verifyCount(ReadHoldingRegistersRequest.MAX_COUNT)
    return _request(pdu)


def write_request(unit: int, address: int, values: list[int]) -> Request:
    """Write 1..123 words to holding registers at ``address`` (function 16); ValueError if invalid."""
    if not 1 <= len(values) <= 123 or any(not 0 <= v <= 0xFFFF for v in values):
        raise ValueError(f"write needs 1..123 register words of 0..65535, got {values}")
    return _request(
        WriteMultipleRegistersRequest(address=address, registers=values, dev_id=_checked_unit(unit))
    )


def _checked_unit(unit: int) -> int:
    if not 0 <= unit <= 247:
        raise ValueError(f"unit id must be 0..247, got {unit}")
    return unit


def _request(pdu: ModbusPDU) -> Request:
    pdu.verifyAddress()
    body = pdu.function_code.to_bytes(1, "big") + pdu.encode()
    return Request(pdu.dev_id, pdu.function_code, pdu.address, pdu.count, body)


class ClientFraming:
    """One Modbus client conversation: one request in flight, its answer parsed from fed bytes."""

    def __init__(self, framing: Framing) -> None:
        decoder = DecodePDU(is_server=False)
        self._framing = framing
        self._framer: FramerBase = FramerSocket(decoder) if framing is Framing.SOCKET else FramerRTU(decoder)
        self._buffer = bytearray()
        self._next_tid = 1
        self._pending: _Pending | None = None

    def send(self, request: Request) -> bytes:
        """Put ``request`` in flight (replacing any earlier one) and return its frame."""
        tid = self._next_tid
        self._next_tid = tid % 0xFFFF + 1
        self._buffer.clear()
        self._pending = _Pending(request, tid)
        return self._framer.encode(request.pdu, request.unit, tid)

    def reset(self) -> None:
        """Forget the request in flight and any buffered bytes (after a reconnect)."""
        self._buffer.clear()
        self._pending = None

    def receive(self, data: bytes | bytearray) -> list[int] | None:
        """Feed received bytes; return the registers read (``[]`` for a write) once the answer is complete.

        Raises :class:`~actors.device_link.DeviceExceptionResponse` when the device refused the
        request and :class:`GarbledFrame` when the bytes cannot be its answer.
        """
        pending = self._pending
        if pending is None:
            raise GarbledFrame(f"{len(data)} bytes arrived with no request in flight")
        self._buffer += data
        self._check_header()
        try:
            used, pdu = self._framer.handleFrame(bytes(self._buffer), 0, 0)
        except ModbusIOException as exc:
            raise GarbledFrame(f"undecodable answer: {exc}") from exc
        if pdu is None:
            if used or len(self._buffer) > _MAX_ADU:
                raise GarbledFrame(f"no valid frame in {bytes(self._buffer[:32]).hex()}...")
            return None
        self._pending = None
        self._buffer.clear()
        return self._answer(pending, pdu)

    def _check_header(self) -> None:
        """Reject an MBAP header that pymodbus would wait on forever."""
        if self._framing is not Framing.SOCKET or len(self._buffer) < 6:
            return
        protocol = int.from_bytes(self._buffer[2:4], "big")
        length = int.from_bytes(self._buffer[4:6], "big")
        if protocol != 0 or not 3 <= length <= 254:
            raise GarbledFrame(f"bad MBAP header {bytes(self._buffer[:7]).hex()}")

    @staticmethod
    def _answer(pending: _Pending, pdu: ModbusPDU) -> list[int]:
        request = pending.request
        if pending.transaction_id != pdu.transaction_id and pdu.transaction_id:
            raise GarbledFrame(
                f"answer to transaction {pdu.transaction_id}, expected {pending.transaction_id}"
            )
        if pdu.dev_id != request.unit:
            raise GarbledFrame(f"answer from unit {pdu.dev_id}, expected {request.unit}")
        if isinstance(pdu, ExceptionResponse) and pdu.function_code & 0x7F == request.function_code:
            raise DeviceExceptionResponse(request.unit, request.function_code, pdu.exception_code)
        if pdu.function_code != request.function_code:
            raise GarbledFrame(f"answer with function {pdu.function_code}, expected {request.function_code}")
        if request.function_code == _WRITE_CODE:
            if (pdu.address, pdu.count) != (request.address, request.count):
                raise GarbledFrame(
                    f"write echoed {pdu.count} at {pdu.address},"
                    f" expected {request.count} at {request.address}"
                )
            return []
        registers = list(pdu.registers)
        if len(registers) != request.count:
            raise GarbledFrame(f"{len(registers)} registers answered, {request.count} asked")
        return registers
