"""Modbus meters and EVSE controllers as the actors see them: a profile bound to a line and a unit.

:class:`ModbusMeter` satisfies :class:`actors.device_link.MeterSource` (the Shelly meter does too),
so the meter actor polls either without knowing which. :class:`ModbusEvse` adds the two writes an
EVSE controller takes: the current setpoint and the enable flag.
"""

from __future__ import annotations

from actors.device_link import Reading, RegisterLink
from actors.device_profile import DeviceKind, DeviceProfile, ReadBlock, decode_reading


class ModbusMeter:
    """Polls one unit on a line with the fewest requests the profile's read plan allows."""

    def __init__(self, link: RegisterLink, unit: int, profile: DeviceProfile) -> None:
        self.link = link
        self.unit = unit
        self.profile = profile
        self._plan = profile.read_plan()

    async def poll(self) -> Reading:
        """Read every block of the plan in turn and decode them into one reading."""
        answers: dict[ReadBlock, list[int]] = {}
        for block in self._plan:
            answers[block] = await self.link.read(self.unit, block.function, block.address, block.count)
        return decode_reading(answers)


class ModbusEvse(ModbusMeter):
    """An EVSE controller: polled like a meter, driven through its setpoint and enable registers."""

    def __init__(self, link: RegisterLink, unit: int, profile: DeviceProfile) -> None:
        if profile.kind is not DeviceKind.EVSE:
            raise ValueError(f"profile {profile.name!r} is a {profile.kind.value}, not an evse")
        super().__init__(link, unit, profile)

    async def set_current(self, amps: float) -> None:
        """Write the charging current setpoint (0 pauses charging)."""
        address, words = self.profile.setpoint_write(amps)
        await self.link.write(self.unit, address, words)

    async def set_enabled(self, enabled: bool) -> None:
        """Write the enable flag; raises ValueError when the profile has none."""
        address, words = self.profile.enable_write(enabled)
        await self.link.write(self.unit, address, words)
