"""Several chargeward nodes on one PostgreSQL, and PostgreSQL beside SQLite (issue 15), in one run.

``python -m bench.nodes [--pg postgresql://root@127.0.0.1:5432/test] [--out bench/results]``

1. backends: the standard suite's saturation (100 stations, 15 s) and two of its ramp steps (200
   stations, 400 and 1,200 msg/s, 8 s each) on one node, SQLite then PostgreSQL;
2. sharing: saturation with 200 stations (two load workers) on one node, then on two nodes with half
   the stations each, then both again: the aggregate durable msg/s (every answered message was
   committed first: the durability rule);
3. failover: ``--failover-stations`` stations on node A send MeterValues every 0.2 s; A is killed with
   -9; each station reconnects to node B as soon as its connection drops and boots again. Measured:
   the time from the kill until every station was answered on B, and that every message A or B
   acknowledged is in the log.

Each part runs on a fresh schema of the PostgreSQL database, dropped at the end. Writes
``<label>.json`` (default ``nodes``) to ``--out`` and prints the figures as markdown tables;
``--parts`` runs some of the parts only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import trio

from bench.loadgen import raise_open_file_limit
from bench.scenarios import Scenario, drive
from bench.servers import BUILTIN, RunningServer, ServerSpec, proc_cpu_seconds, running, tree_total
from bench.sim_station import SimStation, encode
from bench.ws_transport import TransportClosed, WsTransport

PG = "postgresql://root@127.0.0.1:5432/test"
_SERVE = BUILTIN["chargeward"].argv
# How a station's connection ends when its node is killed: closed, or reset mid-read or mid-write.
_GONE = (TransportClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError)


def _spec(name: str, *extra: str) -> ServerSpec:
    return ServerSpec(name, (*_SERVE, *extra), metrics_path="/metrics")


@contextmanager
def _schemas(pg: str) -> Iterator[list[str]]:
    made: list[str] = []
    try:
        yield made
    finally:
        if made:
            with psycopg.connect(pg, autocommit=True) as conn:
                for name in made:
                    conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def _fresh(pg: str, made: list[str]) -> str:
    name = f"cw_bench_{uuid.uuid4().hex[:12]}"
    made.append(name)
    return f"{pg}?schema={name}"


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _step_row(part: str, variant: str, run: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for step in run["steps"]:
        rows.append(
            {
                "part": part,
                "variant": variant,
                "scenario": run["scenario"],
                "stations": run["stations"],
                "offered": step["offered_rate"],
                "achieved": step["achieved_rate"],
                "p50_ms": step["all"].get("p50_ms"),
                "p99_ms": step["all"].get("p99_ms"),
                "errors": sum(step["errors"].values()),
                "timeouts": sum(step["timeouts"].values()),
                "cpu_s_per_1000": step.get("server_cpu_s_per_1000"),
            }
        )
    return rows


async def backends(pg: str, made: list[str]) -> list[dict[str, Any]]:
    """Part 1: SQLite and PostgreSQL, one node each, under the same scenarios."""
    rows = []
    scenarios = (
        Scenario("saturation", stations=100, duration=15.0),
        Scenario("ramp", stations=200, rates=(400, 1200), duration=8.0),
    )
    for scenario in scenarios:
        for variant in ("sqlite", "postgresql"):
            extra = () if variant == "sqlite" else ("--store", _fresh(pg, made))
            print(f"nodes: {scenario.name} on {variant} (load {_load()})", file=sys.stderr, flush=True)
            async with running(_spec(variant, *extra)) as server:
                run = await drive(server.url, scenario, server)
            rows += _step_row("backends", variant, run)
    return rows


@asynccontextmanager
async def _nodes(pg_url: str, count: int) -> AsyncIterator[list[RunningServer]]:
    async with running(_spec("node-a", "--store", pg_url, "--node", "a")) as a:
        if count == 1:
            yield [a]
            return
        async with running(_spec("node-b", "--store", pg_url, "--node", "b")) as b:
            yield [a, b]


async def sharing(pg: str, made: list[str], stations: int, rounds: int) -> list[dict[str, Any]]:
    """Part 2: the same saturation on one node and on two (half the stations each), alternately."""
    rows = []
    scenario = Scenario("saturation", stations=stations, duration=15.0, workers=2)
    for _, count in itertools.product(range(rounds), (1, 2)):
        print(f"nodes: saturation on {count} node(s) (load {_load()})", file=sys.stderr, flush=True)
        async with _nodes(_fresh(pg, made), count) as nodes:
            cpu = [tree_total(n.process.pid, proc_cpu_seconds) for n in nodes]
            run = await drive([n.url for n in nodes], scenario)
            cpu = [tree_total(n.process.pid, proc_cpu_seconds) - c for n, c in zip(nodes, cpu, strict=True)]
        (row,) = _step_row("sharing", f"{count} node(s)", run)
        answered = row["achieved"] * scenario.duration
        row["nodes_cpu_s_per_1000"] = 1000 * sum(cpu) / answered if answered else None
        row["node_cpu_s"] = cpu
        rows.append(row)
    return rows


class _Station:
    """A minimal OCPP 1.6 station for the failover: boots, sends numbered MeterValues, answers CALLs."""

    def __init__(self, station_id: str) -> None:
        self.id = station_id
        self.sim = SimStation(station_id, 1, seed=1)
        self.numbers = itertools.count(1)

    async def call(self, link: WsTransport, action: str, payload: dict[str, Any]) -> list[Any]:
        message_id = self.sim.next_message_id()
        await link.send(encode([2, message_id, action, payload]))
        deadline = trio.current_time() + 30
        while True:
            text = await link.receive(deadline)
            if text is None:
                raise TransportClosed(f"no answer to {action} in 30 s")
            frame = json.loads(text)
            if frame[0] == 2:
                await link.send(self.sim.answer(frame))
            elif frame[1] == message_id:
                return list(frame)

    async def boot(self, link: WsTransport) -> bool:
        frame = await self.call(link, "BootNotification", self.sim.boot_notification())
        return bool(frame[0] == 3 and frame[2].get("status") == "Accepted")

    async def meter(self, link: WsTransport) -> int | None:
        """Send the next numbered MeterValues; its number if acknowledged."""
        number = next(self.numbers)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = {
            "connectorId": 1,
            "meterValue": [{"timestamp": stamp, "sampledValue": [{"value": str(number)}]}],
        }
        frame = await self.call(link, "MeterValues", payload)
        return number if frame[0] == 3 else None


async def _connect(url: str) -> WsTransport:
    while True:
        try:
            return await WsTransport.connect(url, "ocpp1.6", 10)
        except (TransportClosed, OSError, trio.TooSlowError):
            await trio.sleep(0.05)


async def failover(pg: str, made: list[str], stations: int) -> dict[str, Any]:
    """Part 3: kill -9 of the node serving ``stations``; how long until all are served on the other."""
    from adapters.stores import open_store  # the check reads the log as chargeward stores it

    url = _fresh(pg, made)
    acked: dict[str, set[int]] = {}
    served: dict[str, float] = {}
    refused: list[str] = []
    killed_at = 0.0
    print(f"nodes: failover of {stations} stations (load {_load()})", file=sys.stderr, flush=True)
    async with _nodes(url, 2) as (a, b):

        async def station(index: int, booted: trio.Event) -> None:
            me = _Station(f"fo-{index:04d}")
            mine = acked[me.id] = set()
            link = await _connect(f"{a.url}/{me.id}")
            if not await me.boot(link):
                refused.append(f"{me.id}: boot refused on A")
            booted.set()
            try:
                while True:
                    number = await me.meter(link)
                    if number is not None:
                        mine.add(number)
                    await trio.sleep(0.2)
            except _GONE:
                pass  # node A is gone
            await link.aclose()
            while True:  # a charger retries until its CSMS (here, behind a balancer: node B) answers
                link = await _connect(f"{b.url}/{me.id}")
                try:
                    if await me.boot(link):
                        break
                    refused.append(f"{me.id}: boot refused on B")
                except _GONE:
                    pass
                await link.aclose()
                await trio.sleep(0.5)
            served[me.id] = trio.current_time() - killed_at
            for _ in range(3):
                number = await me.meter(link)
                if number is not None:
                    mine.add(number)
            await link.aclose()

        with trio.fail_after(300):
            async with trio.open_nursery() as nursery:
                boots = []
                for index in range(stations):
                    boots.append(trio.Event())
                    nursery.start_soon(station, index, boots[-1])
                for event in boots:
                    await event.wait()
                await trio.sleep(5.0)  # load on node A
                a.process.kill()
                killed_at = trio.current_time()
                await a.process.wait()
    lost = 0
    async with open_store(url) as store:
        for station_id, numbers in acked.items():
            stored = set()
            for record in await store.read_stream(f"station/{station_id}"):
                if record.type == "FrameReceived" and record.data.get("action") == "MeterValues":
                    frame = json.loads(record.data["text"])
                    stored.add(int(frame[3]["meterValue"][0]["sampledValue"][0]["value"]))
            lost += len(numbers - stored)
    times = sorted(served.values())
    return {
        "stations": stations,
        "acknowledged": sum(len(n) for n in acked.values()),
        "lost": lost,
        "served_again_p50_s": times[len(times) // 2],
        "served_again_max_s": times[-1],
        "refused": refused[:10],
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    out: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "load_start": _load()}
    parts = set(args.parts.split(","))
    with _schemas(args.pg) as made:
        if "backends" in parts:
            out["backends"] = await backends(args.pg, made)
            out["load_after_backends"] = _load()
        if "sharing" in parts:
            out["sharing"] = await sharing(args.pg, made, args.stations, args.rounds)
            out["load_after_sharing"] = _load()
        if "failover" in parts:
            out["failover"] = await failover(args.pg, made, args.failover_stations)
    out["load_end"] = _load()
    out["wall_s"] = time.time() - started
    return out


def markdown(out: dict[str, Any]) -> str:
    lines = [
        "| part | variant | scenario | stations | offered/s | achieved/s | p50 ms | p99 ms | errors "
        "| timeouts |"
    ]
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for row in out.get("backends", []) + out.get("sharing", []):
        offered = "closed" if row["offered"] is None else f"{row['offered']:.0f}"
        lines.append(
            f"| {row['part']} | {row['variant']} | {row['scenario']} | {row['stations']} | {offered} | "
            f"{row['achieved']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} | "
            f"{row['timeouts']} |"
        )
    f = out.get("failover")
    if f is not None:
        lines += [
            "",
            f"failover: {f['stations']} stations, all served again on node B "
            f"{f['served_again_max_s']:.2f} s after the kill (median {f['served_again_p50_s']:.2f} s); "
            f"{f['acknowledged']} messages acknowledged, "
            f"{f['lost']} of them missing from the log; refused: {f['refused']}",
        ]
    lines.append(f"load average (1/5/15 min): start {out['load_start']}, end {out['load_end']}")
    return "\n".join(lines)


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nodes", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg", default=PG, help="a PostgreSQL database URL (a schema per part is made in it)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--stations", type=int, default=200, help="stations of the sharing part")
    parser.add_argument(
        "--rounds", type=int, default=2, help="one node / two nodes pairs in the sharing part"
    )
    parser.add_argument("--failover-stations", type=int, default=100)
    parser.add_argument("--parts", default="backends,sharing,failover", help="which parts, comma-separated")
    parser.add_argument("--label", default="nodes", help="the result file's name, without .json")
    args = parser.parse_args(argv)
    raise_open_file_limit()
    out = trio.run(main, args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.label}.json").write_text(json.dumps(out, indent=1))
    print(markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(run())
