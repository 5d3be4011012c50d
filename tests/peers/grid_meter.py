"""A grid meter for the site tests: pymodbus's own asyncio TCP server, run as a subprocess.

Run as ``python -m tests.peers.grid_meter PORT``. Unit 1 holds the current on L1, L2, L3 in holding
registers 0, 1, 2 (u16, 0.1 A each; :data:`PROFILE` is the matching device profile). Driven by lines
on stdin: ``12.5 30 8`` sets the three currents (A), ``fail`` makes every read answer exception 4
(device failure) until the next currents line. asyncio is fine here: this is a separate process.
"""

from __future__ import annotations

import asyncio
import sys

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import StartAsyncTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

PROFILE = """
[profile]
name = "test grid meter"
kind = "meter"
max_gap = 0

[defaults]
function = "holding"
type = "u16"
scale = 0.1
unit = "A"
measurand = "Current.Import"

[points.current_l1]
address = 0
phase = "L1"

[points.current_l2]
address = 1
phase = "L2"

[points.current_l3]
address = 2
phase = "L3"
"""

state: dict[str, object] = {"words": [0, 0, 0], "failing": False}


async def serve_reads(
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    """Fill the registers with the currents last given, or fail the read."""
    if state["failing"]:
        return ExcCodes.DEVICE_FAILURE
    words = state["words"]
    assert isinstance(words, list)
    registers[0:3] = words  # the block starts at address 0
    return None


async def read_stdin() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        text = line.decode().strip()
        if text == "fail":
            state["failing"] = True
        elif text:
            state["words"] = [round(float(value) * 10) for value in text.split()]
            state["failing"] = False
        sys.stdout.write("ok\n")
        sys.stdout.flush()


async def main(port: int) -> None:
    device = SimDevice(
        id=1, simdata=[SimData(0, count=3, values=0, datatype=DataType.REGISTERS)], action=serve_reads
    )
    stdin = asyncio.create_task(read_stdin())
    server = asyncio.create_task(
        StartAsyncTcpServer([device], address=("127.0.0.1", port), framer=FramerType.SOCKET)
    )
    await asyncio.wait([stdin, server], return_when=asyncio.FIRST_COMPLETED)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
