"""`chargeward bench` and `chargeward simulate`: argument parsing and the standard suite.

``bench`` starts each server under test itself (fresh port, fresh data dir), runs the same scenario
against each in turn, and writes JSON, markdown and a PNG under bench/results/. ``simulate`` drives any
CSMS at a URL with the same simulated stations and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import trio

from bench import report, site_sim
from bench.loadgen import raise_open_file_limit
from bench.scenarios import DEFAULT_MIX, SCENARIOS, Scenario, drive
from bench.servers import BUILTIN, running, server_spec

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SERVERS = "chargeward,floor,ocpp-peer"

# The `make bench` suite: about three minutes a server on two cores.
STANDARD_SUITE: tuple[Scenario, ...] = (
    Scenario("ramp", stations=200, rates=(100, 200, 400, 600, 800, 1200, 1600), duration=8.0),
    Scenario("saturation", stations=100, duration=15.0),
    Scenario("storm", stations=2000, duration=1.0),
)


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"rates must be numbers separated by commas, got {text!r}") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive, got {text!r}")
    return rates


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"a share between 0 and 1, got {text!r}")
    return share


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", choices=SCENARIOS, default="steady")
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument(
        "--rate",
        type=_rates,
        default=(100.0,),
        help="messages/s offered by all stations together; comma-separated steps for ramp",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load step")
    parser.add_argument("--mix", default=DEFAULT_MIX, help="e.g. MeterValues=0.7,Heartbeat=0.3")
    parser.add_argument("--workers", type=int, default=None, help="load-generator processes")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a CALL may wait for its answer")
    parser.add_argument("--seed", type=int, default=1)
    versions = parser.add_mutually_exclusive_group()
    versions.add_argument(
        "--ocpp",
        choices=["1.6", "2.0.1"],
        default="1.6",
        help="the OCPP version every simulated station speaks",
    )
    versions.add_argument(
        "--ocpp-mix",
        type=_share,
        metavar="SHARE",
        help="mix versions: this share of the stations (0 to 1) speaks 2.0.1, the rest 1.6",
    )
    parser.add_argument("--ca-file", help="for a wss:// CSMS: the CA file its certificate is checked against")
    parser.add_argument("--password", help="every station's HTTP Basic password (security profiles 1, 2)")
    parser.add_argument(
        "--setup-deadline",
        type=float,
        default=120.0,
        help="seconds for every station to connect and boot before it is given up",
    )


def _scenario(args: argparse.Namespace) -> Scenario:
    return Scenario(
        args.scenario,
        stations=args.stations,
        rates=args.rate,
        duration=args.duration,
        mix=args.mix,
        workers=args.workers,
        timeout=args.timeout,
        seed=args.seed,
        setup_deadline=args.setup_deadline,
        ocpp201_share=args.ocpp_mix if args.ocpp_mix is not None else float(args.ocpp == "2.0.1"),
        ca_file=args.ca_file,
        password=args.password,
    )


async def _run_on_servers(scenarios: list[Scenario], specs: list[Any]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for scenario in scenarios:
        for spec in specs:
            print(
                f"bench: {scenario.name} x{scenario.stations} on {spec.name} ...", file=sys.stderr, flush=True
            )
            try:
                async with running(spec) as server:
                    runs.append(await drive(server.url, scenario, server))
            except (RuntimeError, OSError) as exc:
                runs.append({"server": spec.name, "scenario": scenario.name, "error": str(exc)})
                traceback.print_exc(file=sys.stderr)
    return runs


def bench_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chargeward bench", description=__doc__)
    _common(parser)
    parser.add_argument(
        "--suite",
        choices=["standard", "site"],
        help="the standard suite, or the simulated site (bench/site_sim.py), instead of one scenario",
    )
    parser.add_argument(
        "--servers",
        default=DEFAULT_SERVERS,
        help=f"comma-separated, from {', '.join(BUILTIN)} or names given with --server-cmd",
    )
    parser.add_argument(
        "--server-cmd",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="a custom server; COMMAND may use {python} {bindir} {port} {api_port} {data_dir}",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--label", help="result file name (default: suite or scenario and size)")
    args = parser.parse_args(argv)
    if args.suite == "site":
        site_sim.main()
        return 0
    try:
        custom = dict(item.split("=", 1) for item in args.server_cmd)
        specs = [server_spec(name, custom.get(name)) for name in args.servers.split(",") if name]
        scenarios = list(STANDARD_SUITE) if args.suite else [_scenario(args)]
    except ValueError as exc:
        parser.error(str(exc))
    raise_open_file_limit()  # servers started from here inherit it
    runs = trio.run(_run_on_servers, scenarios, specs)
    label = args.label or args.suite or f"{args.scenario}-{args.stations}"
    for path in report.write(runs, args.out, label):
        print(path)
    print(report.markdown(runs, label))
    return 1 if any("error" in r for r in runs) else 0


def simulate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="chargeward simulate",
        description="Drive any OCPP 1.6 or 2.0.1 CSMS with simulated stations (--ocpp, --ocpp-mix).",
    )
    parser.add_argument(
        "--url",
        required=True,
        help="CSMS base URL; the station id is appended, e.g. ws://127.0.0.1:9000/ocpp",
    )
    _common(parser)
    parser.add_argument("--json", type=Path, help="also write the full result here")
    args = parser.parse_args(argv)
    if not args.url.startswith(("ws://", "wss://")):
        parser.error(f"--url must be a ws:// or wss:// URL, got {args.url!r}")
    try:
        scenario = _scenario(args)
    except ValueError as exc:
        parser.error(str(exc))
    raise_open_file_limit()
    result = trio.run(drive, args.url, scenario)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(report.markdown([result], f"simulate {args.scenario} x{args.stations} -> {args.url}"))
    failures = sum(sum(s["timeouts"].values()) + sum(s["errors"].values()) for s in result["steps"])
    return 0 if result["setup"]["set_up"] == args.stations and failures == 0 else 1


if __name__ == "__main__":
    sys.exit(bench_main(sys.argv[1:]))
