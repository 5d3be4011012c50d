"""Property: any profile's values survive the whole stack, sim to meter, over an in-memory stream.

The device side is pymodbus's datastore and framers inside :class:`bench.modbus_sim.ModbusSimServer`;
the client side is our framing, line, read plan and codec. No sockets, so hypothesis can try
many layouts quickly.
"""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.device_link import RegisterFunction
from actors.device_profile import DeviceKind, DeviceProfile, RegisterPoint
from actors.registers import ByteOrder, DataType, WordOrder
from adapters.modbus import Framing, ModbusLine, ModbusMeter
from bench.modbus_sim import ModbusSimServer, static_device

INT_RANGE = {DataType.U16: (0, 0xFFFF), DataType.S16: (-0x8000, 0x7FFF)}
INT_RANGE |= {DataType.U32: (0, 0xFFFF_FFFF), DataType.S32: (-0x8000_0000, 0x7FFF_FFFF)}


@st.composite
def profiles_with_values(draw: st.DrawFn) -> tuple[DeviceProfile, dict[str, float]]:
    count = draw(st.integers(1, 12))
    address = draw(st.integers(0, 60000))
    points: list[RegisterPoint] = []
    values: dict[str, float] = {}
    for index in range(count):
        dtype = draw(st.sampled_from(list(DataType)))
        name = f"p{index}"
        points.append(
            RegisterPoint(
                name=name,
                address=address,
                function=draw(st.sampled_from(list(RegisterFunction))),
                dtype=dtype,
                word_order=draw(st.sampled_from(list(WordOrder))),
                byte_order=draw(st.sampled_from(list(ByteOrder))),
            )
        )
        if dtype in INT_RANGE:
            values[name] = float(draw(st.integers(*INT_RANGE[dtype])))
        elif dtype is DataType.FLOAT32:
            values[name] = draw(st.floats(width=32, allow_nan=False, allow_infinity=False))
        else:
            values[name] = draw(st.floats(allow_nan=False, allow_infinity=False))
        address += dtype.register_count + draw(st.sampled_from([0, 0, 1, 7]))
        if address + 4 > 0x10000:
            break
    return DeviceProfile("generated", DeviceKind.METER, tuple(points)), values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profiles_with_values(), st.sampled_from(list(Framing)), st.integers(1, 247))
async def test_values_survive_sim_line_plan_and_codec(
    generated: tuple[DeviceProfile, dict[str, float]], framing: Framing, unit: int
) -> None:
    profile, values = generated
    server = ModbusSimServer([static_device(unit, profile, values)], framing)
    client_end, server_end = trio.testing.memory_stream_pair()

    async def connect() -> trio.abc.Stream:
        return client_end

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handle_stream, server_end)
        line = ModbusLine(connect, framing)
        reading = await ModbusMeter(line, unit, profile).poll()
        await line.aclose()
    assert {sample.name: sample.value for sample in reading.samples} == values
    assert server.requests == len(profile.read_plan())
