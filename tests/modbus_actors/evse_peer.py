"""A clamping EVSE controller for the tests: pymodbus's own asyncio TCP server, run as a subprocess.

Run as ``python -m tests.modbus_actors.evse_peer PORT``. Unit 1 has the SimpleEVSE-WB register
layout (holding 1000..1006 and 2000) and, like many real controllers, clamps the current setpoint
written to register 1000 to :data:`CLAMP_AMPS` (the cable's limit). asyncio is fine here: this is a
separate process, never the test's.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import StartAsyncTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

SETPOINT = 1000
CLAMP_AMPS = 16


async def clamp(
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    """Lower a setpoint above the clamp before pymodbus stores it."""
    if set_values and function_code == 16 and address <= SETPOINT < address + len(set_values):
        words = cast(list[int], set_values)  # function 16 writes registers, not bits
        words[SETPOINT - address] = min(words[SETPOINT - address], CLAMP_AMPS)
    return None


def devices() -> list[SimDevice]:
    """Unit 1: the SimpleEVSE-WB holding registers, all zero but the boot current (6 A)."""
    return [
        SimDevice(
            id=1,
            simdata=[
                SimData(SETPOINT, count=7, values=0, datatype=DataType.REGISTERS),
                SimData(2000, values=6, datatype=DataType.REGISTERS),
            ],
            action=clamp,
        )
    ]


def main() -> None:
    port = int(sys.argv[1])
    asyncio.run(StartAsyncTcpServer(devices(), address=("127.0.0.1", port), framer=FramerType.SOCKET))


if __name__ == "__main__":
    main()
