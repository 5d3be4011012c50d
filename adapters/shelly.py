"""Shelly Pro 3EM (Gen2 RPC over HTTP) as a :class:`actors.device_link.MeterSource`.

Real sites meter their grid connection with a Shelly Pro 3EM as often as with a Modbus meter,
so the meter actor polls it through the same ``poll() -> Reading`` interface. One poll is two
RPC calls over plain HTTP/1.1: ``EM.GetStatus`` (per-phase voltage, current, power, power
factor, frequency) and ``EMData.GetStatus`` (energy counters in Wh).

HTTP is spoken with h11 on a trio TCP stream: h11 is already installed (wsproto depends on it),
it is sans-I/O like the rest of our protocol code, and a poll needs one short GET per call,
not a pooled client; httpx would add anyio and httpcore to the server process for nothing.
Each call opens its own connection (``Connection: close``), so a device that stalls or answers
garbage costs one timeout and leaves nothing behind. Digest authentication is not supported:
enable the RPC without a password on a trusted network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import h11
import trio

from actors.device_link import DeviceDisconnected, DeviceTimeout, Reading, Sample

#: Answers longer than this are not an EM status: refuse them instead of buffering.
_MAX_BODY = 64 * 1024

#: (EM.GetStatus key, unit, OCPP measurand, phase); ``required`` keys must be present and numeric.
_EM_FIELDS: tuple[tuple[str, str, str | None, str | None, bool], ...] = (
    *(
        entry
        for prefix, phase, voltage_phase in (("a", "L1", "L1-N"), ("b", "L2", "L2-N"), ("c", "L3", "L3-N"))
        for entry in (
            (f"{prefix}_voltage", "V", "Voltage", voltage_phase, True),
            (f"{prefix}_current", "A", "Current.Import", phase, True),
            (f"{prefix}_act_power", "W", "Power.Active.Import", phase, True),
            (f"{prefix}_aprt_power", "VA", None, phase, False),
            (f"{prefix}_pf", "", "Power.Factor", phase, False),
            (f"{prefix}_freq", "Hz", "Frequency", phase, False),
        )
    ),
    ("n_current", "A", "Current.Import", "N", False),
    ("total_current", "A", "Current.Import", None, False),
    ("total_act_power", "W", "Power.Active.Import", None, True),
    ("total_aprt_power", "VA", None, None, False),
)

_EMDATA_FIELDS: tuple[tuple[str, str, str | None, str | None, bool], ...] = (
    ("total_act", "Wh", "Energy.Active.Import.Register", None, True),
    ("total_act_ret", "Wh", "Energy.Active.Export.Register", None, False),
    *(
        entry
        for prefix, phase in (("a", "L1"), ("b", "L2"), ("c", "L3"))
        for entry in (
            (f"{prefix}_total_act_energy", "Wh", "Energy.Active.Import.Register", phase, False),
            (f"{prefix}_total_act_ret_energy", "Wh", "Energy.Active.Export.Register", phase, False),
        )
    ),
)


def reading_from_status(em: Mapping[str, Any], emdata: Mapping[str, Any]) -> Reading:
    """Map the two RPC answers to a reading; a missing or non-numeric required field is an error."""
    samples: list[Sample] = []
    for method, answer, fields in (("EM", em, _EM_FIELDS), ("EMData", emdata, _EMDATA_FIELDS)):
        for key, unit, measurand, phase, required in fields:
            value = answer.get(key)
            if value is None and not required:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise DeviceDisconnected(f"Shelly {method}.GetStatus: {key} is {value!r}, not a number")
            samples.append(Sample(key, float(value), unit, measurand, phase))
    return Reading(tuple(samples))


class ShellyPro3EM:
    """Polls a Shelly Pro 3EM's EM and EMData components with id ``em_id`` at ``host:port``."""

    def __init__(self, host: str, port: int = 80, *, em_id: int = 0, timeout: float = 2.0) -> None:
        self.host = host
        self.port = port
        self.em_id = em_id
        self.timeout = timeout

    async def poll(self) -> Reading:
        """One reading from both components; raises DeviceTimeout or DeviceDisconnected on failure."""
        em = await self._rpc("EM.GetStatus")
        emdata = await self._rpc("EMData.GetStatus")
        return reading_from_status(em, emdata)

    async def _rpc(self, method: str) -> Mapping[str, Any]:
        target = f"/rpc/{method}?id={self.em_id}"
        try:
            with trio.fail_after(self.timeout):
                status, body = await self._get(target)
        except trio.TooSlowError:
            raise DeviceTimeout(
                f"Shelly {self.host}:{self.port}{target}: no answer in {self.timeout} s"
            ) from None
        except (OSError, trio.BrokenResourceError, h11.ProtocolError) as exc:
            raise DeviceDisconnected(f"Shelly {self.host}:{self.port}{target}: {exc!r}") from exc
        if status != 200:
            raise DeviceDisconnected(f"Shelly {target}: HTTP {status}: {body[:200]!r}")
        try:
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DeviceDisconnected(f"Shelly {target}: answer is not JSON: {exc}") from exc
        if not isinstance(answer, dict):
            raise DeviceDisconnected(f"Shelly {target}: answer is not a JSON object: {body[:200]!r}")
        return answer

    async def _get(self, target: str) -> tuple[int, bytes]:
        stream = await trio.open_tcp_stream(self.host, self.port)
        async with stream:
            conn = h11.Connection(h11.CLIENT)
            request = h11.Request(
                method="GET",
                target=target,
                headers=[("Host", self.host), ("Accept", "application/json"), ("Connection", "close")],
            )
            await stream.send_all(conn.send(request) + (conn.send(h11.EndOfMessage()) or b""))
            status = 0
            body = bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(16384))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > _MAX_BODY:
                        raise DeviceDisconnected(f"Shelly {target}: answer over {_MAX_BODY} bytes")
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return status, bytes(body)
