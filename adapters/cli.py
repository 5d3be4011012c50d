"""The ``chargeward`` command: serve, token, station, schedule, simulate, bench.

``serve`` runs the CSMS core (OCPP server, event store, HTTP API) until interrupted. ``token``
makes operator API tokens and the hashes that go in the config file; ``station password`` does the
same for a station's HTTP Basic password (security profiles 1 and 2). ``schedule`` computes a
connector's composite schedule from a file of charging profiles, offline. ``simulate`` and ``bench``
belong to the load bench (``bench/``), which only this entry point may import.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from actors.policy import IdTag
from adapters import log_tools, schedule
from adapters.api import ApiOptions, InsecureApiOptions, hash_token, new_token
from adapters.api.options import TOKEN_LISTS
from adapters.api.scopes import Scope
from adapters.config import LEASE_SECONDS, Config, ConfigError, load_config, node_options
from adapters.csms import open_csms
from adapters.gc_policy import mmap_big_blocks, settle_heap
from adapters.ocpp_server import BadStationPath, station_id_from_path
from adapters.station_passwords import hash_password, new_password
from core.store import StoreError


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the CSMS core: OCPP server and event store")
    p.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="where the SQLite store lives (default ./data)"
    )
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--ocpp-port", type=int, help="OCPP WebSocket port (default 9000)")
    p.add_argument("--store", help="event store URL (memory://, sqlite:///path); default DATA_DIR/events.db")
    p.add_argument(
        "--node",
        metavar="NAME",
        help="serve as node NAME of several sharing one postgresql:// store (see README, several nodes)",
    )
    p.add_argument(
        "--api-host", help="HTTP API address (default 127.0.0.1; beyond loopback only with tokens)"
    )
    p.add_argument("--api-port", type=int, help="HTTP API port (default 8080)")
    p.add_argument(
        "--demo",
        type=int,
        metavar="N",
        default=0,
        help="also run N simulated stations charging against this server",
    )
    p.add_argument("-v", "--verbose", action="store_true")


def _token_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("token", help="make operator API tokens and their hashes for [api] tokens")
    actions = p.add_subparsers(dest="token_command", required=True)
    new = actions.add_parser("new", help="print a new random token and the hash to put in the config")
    new.add_argument(
        "--scope",
        choices=[scope.name.lower() for scope in Scope],
        default="admin",
        help="what the token may do (default admin): read, command (read and commands), admin "
        "(also password rotation) or metrics (only /metrics)",
    )
    hash_ = actions.add_parser("hash", help="print the hash of a token (read from stdin when not given)")
    hash_.add_argument("token", nargs="?", help="the token (beware: arguments land in shell history)")


def token_main(args: argparse.Namespace) -> int:
    if args.token_command == "new":
        token = new_token()
        setting = next(name for name, scope in TOKEN_LISTS.items() if scope.name.lower() == args.scope)
        print(f"token: {token}\nhash:  {hash_token(token)}  (add to [api] {setting})")
        return 0
    token = args.token if args.token is not None else sys.stdin.readline().strip()
    if not token:
        print("chargeward: token hash: no token given (pass it or pipe it on stdin)", file=sys.stderr)
        return 2
    print(hash_token(token))
    return 0


def _station_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("station", help="station credentials for the config file")
    actions = p.add_subparsers(dest="station_command", required=True)
    password = actions.add_parser(
        "password", help="print a new random password for a station and the config lines with its hash"
    )
    password.add_argument("station_id")


def station_main(args: argparse.Namespace) -> int:
    try:
        station_id_from_path(f"/ocpp/{args.station_id}")
    except BadStationPath as error:
        print(f"chargeward: station password: {error}", file=sys.stderr)
        return 2
    password = new_password()
    print(
        f"password: {password}  (set it on the station, e.g. as its AuthorizationKey)\n"
        f"config:\n"
        f'[stations."{args.station_id}"]\n'
        f"security_profile = 1              # 2 over TLS\n"
        f'password_hash = "{hash_password(password)}"'
    )
    return 0


def _api(config: Config) -> ApiOptions:
    return config.api or ApiOptions()


#: Every ``serve`` flag that overrides a setting, and how: the one place the command line meets the
#: file. Each entry builds on the file's :class:`Config` with ``dataclasses.replace``, so what a flag
#: does not name is kept as the file (or the environment) said; ``build_config`` applies only the
#: flags that were given.
SERVE_FLAGS: dict[str, Callable[[Config, Any], Config]] = {
    "host": lambda c, v: replace(c, server=replace(c.server, host=v)),
    "ocpp_port": lambda c, v: replace(c, server=replace(c.server, port=v)),
    "store": lambda c, v: replace(c, store_url=v),
    "node": lambda c, v: replace(c, node=node_options(v, c.node.lease_seconds if c.node else LEASE_SECONDS)),
    "api_host": lambda c, v: replace(c, api=replace(_api(c), host=v)),
    "api_port": lambda c, v: replace(c, api=replace(_api(c), port=v)),
}


def build_config(args: argparse.Namespace) -> Config:
    """The file (and environment) configuration with the flags that were given on top.

    ``serve`` always runs the HTTP API, so a file without ``[api]`` gets the default options.
    """
    config = load_config(args.config, Config(data_dir=args.data_dir), os.environ)
    config = replace(config, api=_api(config))
    for name, override in SERVE_FLAGS.items():
        value = getattr(args, name)
        if value is None:
            continue
        try:
            config = override(config, value)
        except InsecureApiOptions as error:
            raise ConfigError("command line", "--" + name.replace("_", "-"), error.reason) from None
    return config


def _demo_config(config: Config, count: int) -> Config:
    """Accept the demo stations' id tags, so their sessions show as they would on a real site."""
    from bench.demo import demo_id_tags

    tags = {tag: IdTag() for tag in demo_id_tags(count)}
    return replace(config, fleet=replace(config.fleet, id_tags={**tags, **config.fleet.id_tags}))


def _raise_open_file_limit() -> None:
    """Each station is a socket: lift the soft limit (often 1024) to the hard one, as servers do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(config: Config, demo: int = 0) -> None:
    _raise_open_file_limit()
    mmap_big_blocks()
    # The signals are taken before anything starts, so a Ctrl-C during start-up (a long refold, the
    # banner just printed) stops the server cleanly instead of raising KeyboardInterrupt in whatever runs.
    # Once serving, a signal asks for the ordered stop (open_csms: connections, then actors, then the
    # store), so the stations' disconnects are recorded and no actor meets a closed store; before that,
    # and at a second signal, it cancels everything.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        serving, stop = trio.Event(), trio.Event()
        try:
            async with trio.open_nursery() as outer:
                outer.start_soon(_stop_on_signal, signals, outer.cancel_scope, serving, stop)
                await _serve_until_stopped(config, demo, serving, stop)
                outer.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # One failure to start (a bad store, say) leaves as itself, so main prints its one line.
            if len(group.exceptions) == 1 and not isinstance(group.exceptions[0], BaseExceptionGroup):
                raise group.exceptions[0] from None
            raise


async def _stop_on_signal(
    signals: AsyncIterator[int], scope: trio.CancelScope, serving: trio.Event, stop: trio.Event
) -> None:
    async for signum in signals:
        print(f"chargeward: {signal.Signals(signum).name}, stopping", flush=True)
        if not serving.is_set() or stop.is_set():
            scope.cancel()
            return
        stop.set()


async def _serve_until_stopped(config: Config, demo: int, serving: trio.Event, stop: trio.Event) -> None:
    async with open_csms(config) as csms, trio.open_nursery() as nursery:
        settle_heap()
        print(
            f"chargeward: OCPP on {'ws' if config.server.ssl_context is None else 'wss'}://"
            f"{config.server.host}:{csms.ocpp_port}/ocpp/<station_id>, "
            f"API on {'https' if config.api and config.api.tls_cert else 'http'}://"
            f"{_host(config.api.host if config.api else '')}:{csms.api_port} (docs at /docs), "
            f"store {config.resolved_store_url}",
            flush=True,
        )
        if demo:
            from bench.demo import run_demo

            await nursery.start(run_demo, f"ws://{_host(config.server.host)}:{csms.ocpp_port}/ocpp", demo)
            print(
                f"chargeward: {demo} demo stations charging; try curl http://127.0.0.1:{csms.api_port}/api/stations"
            )
        serving.set()
        await stop.wait()
        nursery.cancel_scope.cancel()  # the demo stations hang up first, as real ones would


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chargeward", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _token_parser(sub)
    _station_parser(sub)
    log_tools.add_parsers(sub)
    schedule.add_parser(sub)
    sub.add_parser("simulate", help="drive simulated OCPP 1.6 or 2.0.1 stations at any CSMS (see --help)")
    sub.add_parser("bench", help="run the latency benchmark (see --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("simulate", "bench"):
        from bench import runner

        return runner.simulate_main(argv[1:]) if argv[0] == "simulate" else runner.bench_main(argv[1:])
    args = make_parser().parse_args(argv)
    if args.command == "token":
        return token_main(args)
    if args.command == "station":
        return station_main(args)
    if args.command == "schedule":
        try:
            return schedule.run(args)
        except ConfigError as error:
            print(f"chargeward: {error}", file=sys.stderr)
            return 2
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "serve":
            config = build_config(args)
            if args.demo < 0:
                raise ConfigError("command line", "--demo", f"must be 0 or more, got {args.demo}")
            trio.run(serve, _demo_config(config, args.demo) if args.demo else config, args.demo)
        else:
            return trio.run(log_tools.run, args)
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    except (ConfigError, StoreError) as error:
        print(f"chargeward: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
