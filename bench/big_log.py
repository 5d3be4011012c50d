"""A large synthetic event log, shaped as ``chargeward serve`` records real traffic, for the start-up bench.

``python -m bench.big_log --events N --out FILE`` writes a msgpack export (the format of
``chargeward events export``) that ``chargeward events import`` appends to a store. Many stations each
connect, boot, report their connectors and then cycle through charging sessions (Authorize,
StartTransaction, StatusNotification Charging, MeterValues every 60 s with the simulated station's ten
sampled values, StopTransaction, StatusNotification Available, a Heartbeat); stations interleave in
time as on a real site. Every exchange is recorded as the server records it: ``FrameReceived``, the
domain events this build's own decision code (``actors.ocpp.v16.decisions``) derives from the request and
reply, then ``FrameSent``; transaction ids come from ``TransactionIdsReserved`` blocks in
``node/local``. Generating rather than recording keeps a 10^6-event log minutes, not days, away.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from actors.events import Event, encode
from actors.events.node import TransactionIdsReserved
from actors.events.station import FrameReceived, FrameSent, StationConnected
from actors.ocpp.v16.decisions import builtin_response, domain_events, wire_time
from actors.policy import FleetPolicy, IdTag
from actors.station_state import StationState
from bench.sim_station import SimStation
from core.codec import pack

FORMAT = "chargeward-events/1"  # adapters.event_io.FORMAT (bench may not import adapters)
START = datetime(2026, 1, 1, tzinfo=UTC)
METER_INTERVAL = 60.0  # seconds between MeterValues while charging
METERS_PER_SESSION = 30  # 30 minutes at 11 kW
TX_BLOCK = 100  # transaction ids reserved at a time, as actors.transaction_ids does
CONNECTORS = 2


def default_stations(events: int) -> int:
    """One station per ~500 events, at least 10: a year-long log of a mid-size site at 10^6."""
    return max(10, min(2000, events // 500))


@dataclass
class _Station:
    sim: SimStation
    state: StationState = field(default_factory=StationState)
    sequence: int = 0
    plan: Iterator[tuple[str, dict[str, Any]]] | None = None


class LogGenerator:
    """Yields export records (stream, sequence, type, time, data) in commit order."""

    def __init__(self, stations: int, seed: int = 1) -> None:
        self.stations = [
            _Station(SimStation(f"BIG-{n:05d}", CONNECTORS, seed=seed * 100_003 + n))
            for n in range(1, stations + 1)
        ]
        tags = {s.sim.authorize()["idTag"]: IdTag() for s in self.stations}
        self.policy = FleetPolicy(id_tags=tags)
        self.now = START
        self.next_tx = 1
        self.reserved_last = 0
        self.node_sequence = 0

    def station_ids(self) -> list[str]:
        return [s.sim.station_id for s in self.stations]

    def records(self) -> Iterator[dict[str, Any]]:
        """Endless: one exchange per station in turn, time advancing so each station meters every minute."""
        step = timedelta(seconds=METER_INTERVAL / len(self.stations))
        for station in self.stations:
            yield self._record(
                station, StationConnected(conn=1, subprotocol="ocpp1.6", remote="127.0.0.1:40000")
            )
            station.plan = self._plan(station)
        while True:
            for station in self.stations:
                self.now += step
                assert station.plan is not None
                action, request = next(station.plan)
                yield from self._exchange(station, action, request)

    def _plan(self, station: _Station) -> Iterator[tuple[str, dict[str, Any]]]:
        sim = station.sim
        yield "BootNotification", sim.boot_notification()
        for connector in range(CONNECTORS + 1):
            yield "StatusNotification", self._stamped(sim.status_notification(connector, "Available"))
        clock = 0.0
        while True:
            yield "Authorize", sim.authorize()
            yield "StartTransaction", self._stamped(sim.start_transaction())
            yield "StatusNotification", self._stamped(sim.status_notification(1, "Charging"))
            for _ in range(METERS_PER_SESSION):
                clock += METER_INTERVAL
                values = sim.meter_values(clock)
                values["meterValue"][0]["timestamp"] = wire_time(self.now)
                yield "MeterValues", values
            yield "StopTransaction", self._stamped(sim.stop_transaction())
            sim.transaction_id = None
            yield "StatusNotification", self._stamped(sim.status_notification(1, "Available"))
            yield "Heartbeat", {}

    def _stamped(self, request: dict[str, Any]) -> dict[str, Any]:
        if "timestamp" in request:
            request["timestamp"] = wire_time(self.now)
        return request

    def _exchange(self, station: _Station, action: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        message_id = station.sim.next_message_id()
        text = json.dumps([2, message_id, action, request], separators=(",", ":"))
        yield self._record(station, FrameReceived(conn=1, text=text, action=action))
        tx_id = None
        if action == "StartTransaction":
            if self.next_tx > self.reserved_last:
                yield from self._reserve()
            tx_id = self.next_tx
            self.next_tx += 1
            station.sim.transaction_id = tx_id
        response = builtin_response(
            action,
            request,
            station_id=station.sim.station_id,
            state=station.state,
            policy=self.policy,
            now=self.now,
            transaction_id=tx_id,
        )
        for event in domain_events(action, request, response, station.state):
            yield self._record(station, event)
        reply = json.dumps([3, message_id, response], separators=(",", ":"))
        yield self._record(station, FrameSent(conn=1, text=reply))

    def _reserve(self) -> Iterator[dict[str, Any]]:
        first, last = self.reserved_last + 1, self.reserved_last + TX_BLOCK
        self.reserved_last = last
        self.node_sequence += 1
        event_type, data = encode(TransactionIdsReserved(first=first, last=last))
        yield {
            "stream": "node/local",
            "sequence": self.node_sequence,
            "type": event_type,
            "time": self.now,
            "data": data,
        }

    def _record(self, station: _Station, event: Event) -> dict[str, Any]:
        station.sequence += 1
        stream = f"station/{station.sim.station_id}"
        station.state.fold(event)
        station.state.version = station.sequence
        event_type, data = encode(event)
        return {
            "stream": stream,
            "sequence": station.sequence,
            "type": event_type,
            "time": self.now,
            "data": data,
        }


def write_export(out: Path, events: int, stations: int | None = None, seed: int = 1) -> dict[str, Any]:
    """Write at least ``events`` records (whole exchanges) to ``out``; returns what was written."""
    generator = LogGenerator(stations if stations is not None else default_stations(events), seed)
    count = 0
    with out.open("wb") as f:
        f.write(pack({"format": FORMAT}))
        for record in generator.records():
            if count >= events and record["type"] == FrameReceived.TYPE:
                break
            f.write(pack(record))
            count += 1
    return {"events": count, "stations": len(generator.stations), "transactions": generator.next_tx - 1}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.big_log", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, required=True, help="at least this many records (whole exchanges)")
    p.add_argument("--stations", type=int, help="default: one per 500 events, 10 to 2000")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    summary = write_export(args.out, args.events, args.stations, args.seed)
    print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
