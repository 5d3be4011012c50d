"""A simulated OCPP 1.6 charging station for the load bench.

`SimStation` holds a station's protocol state and builds its payloads (boot, status per connector,
authorize, start, meter values with ten realistic sampled values, stop) and its answers to every CALL
a CSMS may send; it does no I/O. `StationLink` drives one `SimStation` over a `Transport` from a single
trio task: it sends CALLs one at a time (OCPP allows one in flight per direction), answers the CSMS's
CALLs while it waits, and records each round trip in a `Recorder` measured from the *scheduled* send
time (see bench/stats.py on coordinated omission).

The OCPP framing here is deliberately minimal and self-contained: the bench must be able to drive any
CSMS, including a broken one, and must not share code paths with the server it measures.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trio

from bench.stats import LatencySamples
from bench.ws_transport import Transport

CALL, CALLRESULT, CALLERROR = 2, 3, 4
# epoll sleeps in whole milliseconds, so a station asks to wake this much early and sends at once; the
# latency then counts from the earlier of the scheduled and the actual send time.
TIMER_SLACK = 0.001
MIX_ACTIONS = ("MeterValues", "Heartbeat", "StatusNotification", "Authorize", "DataTransfer")

# Canned answers to CSMS-initiated 1.6 actions: a cooperative station accepts everything it can.
_ANSWERS: dict[str, dict[str, Any]] = {
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "DataTransfer": {"status": "UnknownVendorId"},
    "TriggerMessage": {"status": "Accepted"},
    "SendLocalList": {"status": "NotSupported"},
    "GetLocalListVersion": {"listVersion": 0},
    "ReserveNow": {"status": "Accepted"},
    "CancelReservation": {"status": "Accepted"},
    "UpdateFirmware": {},
    "GetDiagnostics": {},
    "SetChargingProfile": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "GetCompositeSchedule": {"status": "Rejected"},
    "GetConfiguration": {"configurationKey": [], "unknownKey": []},
}


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def encode(frame: list[Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


@dataclass
class Recorder:
    """What one phase of a run observed: round trips per action and everything that went wrong."""

    latencies: dict[str, LatencySamples] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    timeouts: Counter[str] = field(default_factory=Counter)
    send_lag: LatencySamples = field(default_factory=LatencySamples)
    late_replies: int = 0
    malformed: int = 0
    csms_calls_answered: int = 0
    disconnects: int = 0

    def latency(self, action: str, seconds: float) -> None:
        samples = self.latencies.get(action)
        if samples is None:
            samples = self.latencies[action] = LatencySamples()
        samples.add(seconds)

    def merge(self, other: Recorder) -> None:
        for action, samples in other.latencies.items():
            self.latencies.setdefault(action, LatencySamples()).merge(samples)
        self.errors.update(other.errors)
        self.timeouts.update(other.timeouts)
        self.send_lag.merge(other.send_lag)
        self.late_replies += other.late_replies
        self.malformed += other.malformed
        self.csms_calls_answered += other.csms_calls_answered
        self.disconnects += other.disconnects

    def answered(self) -> int:
        return sum(len(s) for s in self.latencies.values())

    def to_wire(self) -> dict[str, Any]:
        """A msgpack-able form, for sending from a worker process to the orchestrator."""
        return {
            "latencies": {a: s.to_bytes() for a, s in self.latencies.items()},
            "errors": dict(self.errors),
            "timeouts": dict(self.timeouts),
            "send_lag": self.send_lag.to_bytes(),
            "late_replies": self.late_replies,
            "malformed": self.malformed,
            "csms_calls_answered": self.csms_calls_answered,
            "disconnects": self.disconnects,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Recorder:
        return cls(
            latencies={a: LatencySamples.from_bytes(b) for a, b in wire["latencies"].items()},
            errors=Counter(wire["errors"]),
            timeouts=Counter(wire["timeouts"]),
            send_lag=LatencySamples.from_bytes(wire["send_lag"]),
            late_replies=wire["late_replies"],
            malformed=wire["malformed"],
            csms_calls_answered=wire["csms_calls_answered"],
            disconnects=wire["disconnects"],
        )


class SimStation:
    """Protocol state and payloads of one simulated 1.6 station (a three-phase 11 kW AC wallbox)."""

    subprotocol = "ocpp1.6"

    def __init__(self, station_id: str, connectors: int, seed: int) -> None:
        self.station_id = station_id
        self.connectors = connectors
        self.rng = random.Random(seed)
        self.transaction_id: int | str | None = None  # 2.0.1 (bench.sim_station201): a string
        self.energy_wh = float(self.rng.randrange(0, 5_000_000))
        self._next_id = 0
        self._last_sample: float | None = None

    def next_message_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def boot_notification(self) -> dict[str, Any]:
        return {
            "chargePointVendor": "chargeward-bench",
            "chargePointModel": "SIM-11kW",
            "chargePointSerialNumber": self.station_id,
            "firmwareVersion": "1.0.0",
            "meterType": "SIM",
        }

    def status_notification(self, connector: int, status: str) -> dict[str, Any]:
        return {"connectorId": connector, "errorCode": "NoError", "status": status, "timestamp": _timestamp()}

    def authorize(self) -> dict[str, Any]:
        return {"idTag": f"TAG-{self.station_id[-12:]}"}

    def start_transaction(self) -> dict[str, Any]:
        return {
            "connectorId": 1,
            "idTag": f"TAG-{self.station_id[-12:]}",
            "meterStart": int(self.energy_wh),
            "timestamp": _timestamp(),
        }

    def stop_transaction(self) -> dict[str, Any]:
        return {
            "transactionId": self.transaction_id if self.transaction_id is not None else 0,
            "meterStop": int(self.energy_wh),
            "timestamp": _timestamp(),
            "reason": "Local",
        }

    def meter_values(self, now: float) -> dict[str, Any]:
        """Ten sampled values of a three-phase charge; energy integrates power over the elapsed time."""
        rng = self.rng
        volts = [230.0 + rng.gauss(0.0, 2.0) for _ in range(3)]
        amps = [max(0.0, 16.0 + rng.gauss(0.0, 0.4)) for _ in range(3)]
        power_w = sum(v * a for v, a in zip(volts, amps, strict=True))
        if self._last_sample is not None:
            self.energy_wh += power_w * max(0.0, now - self._last_sample) / 3600.0
        self._last_sample = now
        sampled: list[dict[str, str]] = []
        for phase, v in zip(("L1-N", "L2-N", "L3-N"), volts, strict=True):
            sampled.append({"value": f"{v:.1f}", "measurand": "Voltage", "phase": phase, "unit": "V"})
        for phase, a in zip(("L1", "L2", "L3"), amps, strict=True):
            sampled.append({"value": f"{a:.2f}", "measurand": "Current.Import", "phase": phase, "unit": "A"})
        sampled.append({"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W"})
        sampled.append(
            {"value": f"{self.energy_wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        )
        sampled.append({"value": f"{50.0 + rng.gauss(0.0, 0.02):.2f}", "measurand": "Frequency"})
        sampled.append(
            {"value": f"{35.0 + rng.gauss(0.0, 1.0):.1f}", "measurand": "Temperature", "unit": "Celsius"}
        )
        payload: dict[str, Any] = {
            "connectorId": 1,
            "meterValue": [{"timestamp": _timestamp(), "sampledValue": sampled}],
        }
        if self.transaction_id is not None:
            payload["transactionId"] = self.transaction_id
        return payload

    def start_call(self) -> tuple[str, dict[str, Any]]:
        """The CALL that starts the transaction."""
        return "StartTransaction", self.start_transaction()

    def started(self, result: dict[str, Any]) -> None:
        """Take the transaction id from the start's answer."""
        tx = result.get("transactionId")
        self.transaction_id = tx if isinstance(tx, int) else 0

    def stop_call(self) -> tuple[str, dict[str, Any]]:
        """The CALL that ends the transaction."""
        return "StopTransaction", self.stop_transaction()

    def call_for(self, action: str, now: float) -> tuple[str, dict[str, Any]]:
        """The CALL (action sent, payload) that carries a load-mix action."""
        return action, self.payload_for(action, now)

    def payload_for(self, action: str, now: float) -> dict[str, Any]:
        """The payload of a load-mix action."""
        if action == "MeterValues":
            return self.meter_values(now)
        if action == "Heartbeat":
            return {}
        if action == "StatusNotification":
            return self.status_notification(1, "Charging" if self.transaction_id is not None else "Available")
        if action == "Authorize":
            return self.authorize()
        if action == "DataTransfer":
            return {"vendorId": "chargeward-bench", "messageId": "ping"}
        raise ValueError(f"{action!r} is not a load-mix action; choose from {', '.join(MIX_ACTIONS)}")

    def answer(self, frame: list[Any]) -> str:
        """The reply to a CALL from the CSMS: a canned CALLRESULT, or NotImplemented for unknown actions."""
        msg_id, action = frame[1], frame[2]
        body = _ANSWERS.get(action)
        if body is None:
            return encode([CALLERROR, msg_id, "NotImplemented", f"{action} is not simulated", {}])
        return encode([CALLRESULT, msg_id, body])


class StationLink:
    """One station's connection, driven from one task: CALLs out one at a time, CSMS CALLs answered."""

    def __init__(self, station: SimStation, transport: Transport, timeout: float) -> None:
        self.station = station
        self.transport = transport
        self.timeout = timeout

    async def _dispatch(self, text: str, recorder: Recorder, awaiting: str | None) -> list[Any] | None:
        """Handle one incoming message; return it if it answers the call ``awaiting``."""
        try:
            frame = json.loads(text)
            kind = frame[0]
            if kind == CALL:
                reply = self.station.answer(frame)
        except (ValueError, IndexError, KeyError, TypeError):
            recorder.malformed += 1
            return None
        if kind == CALL:
            with trio.CancelScope(shield=True):  # a half-sent frame would corrupt the stream
                await self.transport.send(reply)
            recorder.csms_calls_answered += 1
            return None
        if kind in (CALLRESULT, CALLERROR) and awaiting is not None and frame[1] == awaiting:
            return frame  # type: ignore[no-any-return]
        recorder.late_replies += 1
        return None

    async def call(
        self, action: str, payload: dict[str, Any], scheduled: float, recorder: Recorder
    ) -> dict[str, Any] | None:
        """Send one CALL and wait for its answer; record latency from ``scheduled``. None on error/timeout."""
        msg_id = self.station.next_message_id()
        await self.transport.send(encode([CALL, msg_id, action, payload]))
        deadline = trio.current_time() + self.timeout
        while True:
            text = await self.transport.receive(deadline)
            if text is None:
                recorder.timeouts[action] += 1
                return None
            frame = await self._dispatch(text, recorder, msg_id)
            if frame is None:
                continue
            if frame[0] == CALLERROR:
                recorder.errors[f"{action}:{frame[2] if len(frame) > 2 else '?'}"] += 1
                return None
            recorder.latency(action, trio.current_time() - scheduled)
            body = frame[2] if len(frame) > 2 else None
            return body if isinstance(body, dict) else {}

    async def idle_until(self, when: float, recorder: Recorder) -> None:
        """Wait for trio time ``when`` while answering whatever the CSMS sends."""
        while trio.current_time() < when:
            text = await self.transport.receive(when)
            if text is None:
                return
            await self._dispatch(text, recorder, None)

    async def boot(self, scheduled: float, recorder: Recorder, retry_cap: float, deadline: float) -> bool:
        """BootNotification until Accepted or trio time ``deadline``, waiting the CSMS's interval (at most
        ``retry_cap``) between tries. The accepted boot's latency counts from ``scheduled``."""
        while trio.current_time() < deadline:
            payload = self.station.boot_notification()
            result = await self.call("BootNotification", payload, scheduled, recorder)
            interval = result.get("interval") if result is not None else None
            if result is not None and result.get("status") == "Accepted":
                return True
            wait = float(interval) if isinstance(interval, int) and interval > 0 else retry_cap
            await self.idle_until(min(trio.current_time() + min(wait, retry_cap), deadline), recorder)
        return False

    async def start_charging(self, recorder: Recorder) -> bool:
        """Authorize, Preparing, StartTransaction, Charging: the transaction the MeterValues refer to."""
        now = trio.current_time()
        if await self.call("Authorize", self.station.authorize(), now, recorder) is None:
            return False
        await self.call(
            "StatusNotification",
            self.station.status_notification(1, "Preparing"),
            trio.current_time(),
            recorder,
        )
        action, payload = self.station.start_call()
        result = await self.call(action, payload, trio.current_time(), recorder)
        if result is None:
            return False
        self.station.started(result)
        self.station.meter_values(trio.current_time())  # starts the energy integration clock
        await self.call(
            "StatusNotification",
            self.station.status_notification(1, "Charging"),
            trio.current_time(),
            recorder,
        )
        return True

    async def stop_charging(self, recorder: Recorder) -> None:
        if self.station.transaction_id is None:
            return
        await self.call(
            "StatusNotification",
            self.station.status_notification(1, "Finishing"),
            trio.current_time(),
            recorder,
        )
        action, payload = self.station.stop_call()
        await self.call(action, payload, trio.current_time(), recorder)
        self.station.transaction_id = None
        await self.call(
            "StatusNotification",
            self.station.status_notification(1, "Available"),
            trio.current_time(),
            recorder,
        )

    async def open_loop(
        self,
        arrivals: list[float],
        mix: list[tuple[str, float]],
        recorder: Recorder,
        slack: float = TIMER_SLACK,
    ) -> None:
        """Send a mix action at each scheduled time; a late answer delays the next send, and that counts.

        ``slack``: how early to wake (0 under a virtual clock, whose timers are exact)."""
        for scheduled in arrivals:
            if trio.current_time() < scheduled - slack:
                await self.idle_until(scheduled - slack, recorder)
                recorder.send_lag.add(max(0.0, trio.current_time() - scheduled))
            action, payload = self.station.call_for(pick(mix, self.station.rng.random()), scheduled)
            start = min(scheduled, trio.current_time())
            await self.call(action, payload, start, recorder)

    async def closed_loop(self, until: float, mix: list[tuple[str, float]], recorder: Recorder) -> None:
        """Send the next mix action as soon as the previous one is answered, until trio time ``until``."""
        while (now := trio.current_time()) < until:
            action, payload = self.station.call_for(pick(mix, self.station.rng.random()), now)
            await self.call(action, payload, now, recorder)


def parse_mix(text: str) -> list[tuple[str, float]]:
    """``"MeterValues=0.7,Heartbeat=0.3"`` -> cumulative weights, with a clear error on bad input."""
    pairs: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, weight = part.strip().partition("=")
        if not sep or name not in MIX_ACTIONS:
            raise ValueError(f"bad mix entry {part!r}: expected Action=weight with Action in {MIX_ACTIONS}")
        w = float(weight)
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"bad weight in {part!r}")
        pairs.append((name, w))
    total = sum(w for _, w in pairs)
    if total <= 0:
        raise ValueError(f"mix {text!r} has no positive weight")
    cumulative, running = [], 0.0
    for name, w in pairs:
        running += w / total
        cumulative.append((name, running))
    return cumulative


def pick(cumulative: list[tuple[str, float]], u: float) -> str:
    """The action whose cumulative weight band holds ``u`` in [0, 1)."""
    for name, edge in cumulative:
        if u < edge:
            return name
    return cumulative[-1][0]
