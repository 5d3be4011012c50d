"""A load-generator worker process: a share of the simulated stations, driven on one trio loop.

Why separate processes: the generator and the server under test share two cores, and one Python
process can only use one of them. The orchestrator (bench/scenarios.py) splits the stations over a few
workers, starts them together, and reads each worker's CPU time so a run where the *generator* was the
bottleneck is visible in the report (the ``send_lag`` samples say how late idle stations sent).

The worker talks to the orchestrator in JSON lines: it reads its `WorkerPlan`, says ``started``, waits
for ``{"go": <epoch>}`` and connects and boots every station at that instant (the storm), says
``connected``, waits for a second go, runs the load steps, says ``loaded``, stops the transactions, and
prints its ``result`` (msgpack, base64) before exiting. Run as ``python -m bench.loadgen``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import resource
import ssl
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import msgpack
import trio

from bench.sim_station import Recorder, SimStation, StationLink, parse_mix
from bench.sim_station201 import SimStation201
from bench.stats import poisson_arrivals
from bench.ws_transport import TransportClosed, WsTransport, basic_authorization


@dataclass(frozen=True)
class Step:
    """One load step: ``rate`` messages/s offered by the whole run (open loop), or None for closed loop."""

    rate: float | None
    duration: float


@dataclass
class WorkerPlan:
    """Everything a worker needs; ``url`` is the CSMS base, the station id is appended to it."""

    url: str
    station_ids: list[str]
    total_stations: int
    steps: list[Step]
    mix: str = "MeterValues=0.7,Heartbeat=0.3"
    connectors: int = 1
    charging: bool = True
    timeout: float = 10.0
    connect_timeout: float = 30.0
    setup_deadline: float = 120.0
    retry_cap: float = 5.0
    seed: int = 1
    ocpp201_ids: list[str] = field(default_factory=list)  # these stations speak 2.0.1, the rest 1.6
    ca_file: str | None = None  # wss://: the CA that signed the server's certificate
    password: str | None = None  # HTTP Basic password of every station (security profiles 1 and 2)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerPlan:
        raw = json.loads(text)
        raw["steps"] = [Step(**s) for s in raw["steps"]]
        return cls(**raw)


class LineReader:
    """Newline-delimited messages from a trio receive stream."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def readline(self) -> bytes:
        """The next line without its newline; EOFError if the stream ends first."""
        while (end := self._buffer.find(b"\n")) < 0:
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                raise EOFError("stream closed before a full line")
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line


class Gate:
    """A one-shot barrier that stations wait at while still answering CSMS calls on their connection."""

    def __init__(self) -> None:
        self.opened = False
        self._event = trio.Event()
        self._sleepers: set[trio.CancelScope] = set()

    def open(self) -> None:
        self.opened = True
        self._event.set()
        for scope in self._sleepers:
            scope.cancel()

    async def wait(self, link: StationLink | None, recorder: Recorder) -> None:
        if link is None:
            await self._event.wait()
            return
        with trio.CancelScope() as scope:
            self._sleepers.add(scope)
            if not self.opened:
                await link.idle_until(math.inf, recorder)
        self._sleepers.discard(scope)


@dataclass
class _Progress:
    """Counts stations through the phases so the worker knows when to report each one."""

    total: int
    setup_done: int = 0
    loaded: int = 0
    connected: int = 0
    accepted_offsets: list[float] = field(default_factory=list)
    ready_offsets: list[float] = field(default_factory=list)
    all_set_up: trio.Event = field(default_factory=trio.Event)
    all_loaded: trio.Event = field(default_factory=trio.Event)

    def set_up(self) -> None:
        self.setup_done += 1
        if self.setup_done == self.total:
            self.all_set_up.set()

    def load_done(self) -> None:
        self.loaded += 1
        if self.loaded == self.total:
            self.all_loaded.set()


class Worker:
    """Runs a `WorkerPlan`'s stations through setup, load steps and teardown."""

    def __init__(self, plan: WorkerPlan) -> None:
        self.plan = plan
        self.mix = parse_mix(plan.mix)
        self._speak_201 = frozenset(plan.ocpp201_ids)
        self.setup = Recorder()
        self.steps = [Recorder() for _ in plan.steps]
        self.teardown = Recorder()
        self.progress = _Progress(total=len(plan.station_ids))
        self.load_gate = Gate()
        self.teardown_gate = Gate()
        self.go = 0.0
        self.load_go = 0.0
        self.ssl_context = ssl.create_default_context(cafile=plan.ca_file) if plan.ca_file else None

    async def _connect(self, station: SimStation, deadline: float) -> StationLink | None:
        backoff = 0.5
        url = f"{self.plan.url.rstrip('/')}/{station.station_id}"
        while trio.current_time() < deadline:
            try:
                transport = await WsTransport.connect(
                    url,
                    station.subprotocol,
                    within=self.plan.connect_timeout,
                    ssl_context=self.ssl_context,
                    authorization=(
                        basic_authorization(station.station_id, self.plan.password)
                        if self.plan.password is not None
                        else None
                    ),
                )
                return StationLink(station, transport, self.plan.timeout)
            except (OSError, TransportClosed, trio.TooSlowError, trio.BrokenResourceError) as exc:
                self.setup.errors[f"connect:{type(exc).__name__}"] += 1
            await trio.sleep(min(backoff, max(0.0, deadline - trio.current_time())))
            backoff = min(backoff * 2, self.plan.retry_cap)
        return None

    async def _set_up(self, station: SimStation) -> StationLink | None:
        deadline = self.go + self.plan.setup_deadline
        link = await self._connect(station, deadline)
        if link is None:
            return None
        self.progress.connected += 1
        try:
            if not await link.boot(self.go, self.setup, self.plan.retry_cap, deadline):
                await link.transport.aclose()
                return None
            self.progress.accepted_offsets.append(trio.current_time() - self.go)
            for connector in range(self.plan.connectors + 1):
                await link.call(
                    "StatusNotification",
                    station.status_notification(connector, "Available"),
                    trio.current_time(),
                    self.setup,
                )
            if self.plan.charging:
                await link.start_charging(self.setup)
            self.progress.ready_offsets.append(trio.current_time() - self.go)
        except (TransportClosed, trio.BrokenResourceError, OSError):
            self.setup.disconnects += 1
            await link.transport.aclose()
            return None
        return link

    async def _load(self, link: StationLink) -> bool:
        """Run every load step; False if the connection was lost."""
        start = self.load_go
        per_station = 1.0 / self.plan.total_stations
        for step, recorder in zip(self.plan.steps, self.steps, strict=True):
            end = start + step.duration
            try:
                if step.rate is None:
                    await link.closed_loop(end, self.mix, recorder)
                else:
                    arrivals = list(poisson_arrivals(step.rate * per_station, start, end, link.station.rng))
                    await link.open_loop(arrivals, self.mix, recorder)
            except (TransportClosed, trio.BrokenResourceError, OSError):
                recorder.disconnects += 1
                return False
            start = end
        return True

    async def _station(self, index: int, station_id: str) -> None:
        kind = SimStation201 if station_id in self._speak_201 else SimStation
        station = kind(station_id, self.plan.connectors, seed=self.plan.seed * 1_000_003 + index)
        await trio.sleep_until(self.go)
        link = await self._set_up(station)
        self.progress.set_up()
        try:
            try:
                await self.load_gate.wait(link, self.setup)
                if link is not None and not await self._load(link):
                    await link.transport.aclose()
                    link = None
            except (TransportClosed, trio.BrokenResourceError, OSError):
                self.setup.disconnects += 1  # lost while waiting for the load to start
                if link is not None:
                    await link.transport.aclose()
                link = None
            finally:
                self.progress.load_done()  # a lost station must not hold the others up
            await self.teardown_gate.wait(link, self.teardown)
            if link is not None:
                await link.stop_charging(self.teardown)
        except (TransportClosed, trio.BrokenResourceError, OSError):
            self.teardown.disconnects += 1
        finally:
            if link is not None:
                await link.transport.aclose()

    def result(self, cpu_load: float) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "stations": len(self.plan.station_ids),
            "connected": self.progress.connected,
            "set_up": len(self.progress.ready_offsets),
            "accepted_offsets": self.progress.accepted_offsets,
            "ready_offsets": self.progress.ready_offsets,
            "setup": self.setup.to_wire(),
            "steps": [r.to_wire() for r in self.steps],
            "teardown": self.teardown.to_wire(),
            "cpu_load_s": cpu_load,
            "cpu_total_s": usage.ru_utime + usage.ru_stime,
            "maxrss_kib": usage.ru_maxrss,
        }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _say(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def _trio_time_of(epoch: float) -> float:
    return trio.current_time() + (epoch - time.time())


async def _run(plan: WorkerPlan, commands: LineReader) -> None:
    worker = Worker(plan)
    _say("started", pid=os.getpid())
    worker.go = _trio_time_of(json.loads(await commands.readline())["go"])
    await trio.sleep_until(worker.go)
    cpu_go = _cpu()
    async with trio.open_nursery() as nursery:
        for index, station_id in enumerate(plan.station_ids):
            nursery.start_soon(worker._station, index, station_id)
        await worker.progress.all_set_up.wait()
        _say(
            "connected",
            connected=worker.progress.connected,
            set_up=len(worker.progress.ready_offsets),
            cpu_setup_s=_cpu() - cpu_go,
        )
        worker.load_go = _trio_time_of(json.loads(await commands.readline())["go"])
        await trio.sleep_until(worker.load_go)
        cpu0 = _cpu()
        worker.load_gate.open()
        await worker.progress.all_loaded.wait()
        cpu_load = _cpu() - cpu0
        _say("loaded", cpu_load_s=cpu_load)
        worker.teardown_gate.open()
    blob = base64.b64encode(msgpack.packb(worker.result(cpu_load))).decode()
    _say("result", blob=blob)


def raise_open_file_limit() -> int:
    """Lift the soft open-file limit to the hard one (10,000 stations need 10,000 sockets)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main() -> None:
    raise_open_file_limit()

    async def entry() -> None:
        commands = LineReader(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())))
        plan = WorkerPlan.from_json((await commands.readline()).decode())
        await _run(plan, commands)

    trio.run(entry)


if __name__ == "__main__":
    main()
