"""Modbus RTU over a local serial port (RS-485 adapter), opened with termios: no pyserial.

The port is put in raw mode at the requested speed, parity and stop bits and wrapped in a trio
``FdStream``, so :class:`~adapters.modbus.line.ModbusLine` drives it like a socket. RTU
delimits frames by silence, so :func:`rtu_frame_gap` gives the 3.5-character gap a line keeps
between an answer and the next request.
"""

from __future__ import annotations

import os
import termios

import trio

from adapters.modbus.line import Connector

_PARITY = {"N": 0, "E": termios.PARENB, "O": termios.PARENB | termios.PARODD}


def _speed(baudrate: int) -> int:
    speed = getattr(termios, f"B{baudrate}", None)
    if not isinstance(speed, int):
        raise ValueError(f"unsupported baud rate {baudrate}")
    return speed


def rtu_frame_gap(baudrate: int) -> float:
    """The Modbus RTU inter-frame silence: 3.5 characters of 11 bits, fixed at 1.75 ms above 19200 baud."""
    return 0.00175 if baudrate > 19200 else 3.5 * 11 / baudrate


def serial_connector(path: str, baudrate: int = 9600, parity: str = "N", stopbits: int = 1) -> Connector:
    """A connector that opens ``path`` as an 8-bit raw serial port; settings are checked now, not later."""
    speed = _speed(baudrate)
    if parity not in _PARITY or stopbits not in (1, 2):
        raise ValueError(f"parity must be N, E or O and stopbits 1 or 2, got {parity!r}, {stopbits!r}")

    async def connect() -> trio.abc.Stream:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            attrs = termios.tcgetattr(fd)
            attrs[0] = 0  # iflag: no translation, no flow control
            attrs[1] = 0  # oflag: no post-processing
            attrs[2] = (
                termios.CS8 | termios.CREAD | termios.CLOCAL | _PARITY[parity]
                | (termios.CSTOPB if stopbits == 2 else 0)
            )  # fmt: skip
            attrs[3] = 0  # lflag: no echo, no canonical mode, no signals
            attrs[4] = attrs[5] = speed
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            termios.tcflush(fd, termios.TCIOFLUSH)
        except termios.error as exc:
            os.close(fd)
            raise OSError(f"{path} is not a configurable serial port: {exc}") from exc
        return trio.lowlevel.FdStream(fd)

    return connect
