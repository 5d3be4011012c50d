"""The real peer for the Modbus tests: pymodbus's own asyncio TCP server, run as a subprocess.

Run as ``python -m tests.modbus.peer_server PORT FRAMER``; FRAMER is ``socket`` (Modbus TCP) or
``rtu`` (RTU over TCP). asyncio is fine here: this is a separate process, never the test's.
Unit 1 holds :data:`LAYOUT` (values encoded by pymodbus's own ``convert_to_registers``, an
implementation independent of ours) and a writable area; unit 2 holds :data:`UNIT2_VALUE` at
address 0. Any other address is illegal, so reading it yields exception code 2.
"""

from __future__ import annotations

import asyncio
import sys

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.framer import FramerType
from pymodbus.server import StartAsyncTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

#: (address, our type name, pymodbus type name, word order, value)
LAYOUT: list[tuple[int, str, str, str, int | float]] = [
    (0, "u16", "UINT16", "big", 42000),
    (1, "s16", "INT16", "big", -1234),
    (10, "u32", "UINT32", "big", 3_000_000_000),
    (12, "u32", "UINT32", "little", 3_000_000_001),
    (14, "s32", "INT32", "big", -123_456_789),
    (16, "s32", "INT32", "little", -987_654_321),
    (20, "float32", "FLOAT32", "big", 230.5),
    (22, "float32", "FLOAT32", "little", -0.125),
    (30, "float64", "FLOAT64", "big", 12345.678901),
    (34, "float64", "FLOAT64", "little", -2.5e-9),
]
WRITABLE = 100
WRITABLE_COUNT = 10
UNIT2_VALUE = 7


def registers() -> list[int]:
    """Unit 1's registers 0..39 as pymodbus encodes LAYOUT."""
    words = [0] * 40
    for address, _, pymodbus_type, order, value in LAYOUT:
        encoded = ModbusClientMixin.convert_to_registers(
            value,
            ModbusClientMixin.DATATYPE[pymodbus_type],
            word_order=order,  # type: ignore[arg-type]
        )
        words[address : address + len(encoded)] = encoded
    return words


def devices() -> list[SimDevice]:
    """Unit 1 with LAYOUT and a writable area, unit 2 with one register."""
    unit1 = SimDevice(
        id=1,
        simdata=[
            SimData(0, count=1, values=registers(), datatype=DataType.REGISTERS),
            SimData(WRITABLE, count=WRITABLE_COUNT, values=0, datatype=DataType.REGISTERS),
        ],
    )
    unit2 = SimDevice(id=2, simdata=[SimData(0, values=UNIT2_VALUE, datatype=DataType.REGISTERS)])
    return [unit1, unit2]


def main() -> None:
    port, framer = int(sys.argv[1]), FramerType(sys.argv[2])
    asyncio.run(StartAsyncTcpServer(devices(), address=("127.0.0.1", port), framer=framer))


if __name__ == "__main__":
    main()
