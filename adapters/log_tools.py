"""The log commands of the CLI: ``chargeward replay`` and ``chargeward events tail|export|import``.

They open the store a server wrote (``--data-dir``, ``--store``, or the ``[store] url`` of ``--config`` or
``CHARGEWARD_STORE_URL``, as ``serve`` finds it), without starting a server, so
they work on a copy of a field site's log as well as next to a running one (SQLite allows readers
beside the writer).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from actors.policy import FleetPolicy
from adapters.config import Config, ConfigError, load_config
from adapters.csms import checkpoint_state
from adapters.event_io import BadExport, export_events, import_events, tail_events
from adapters.replay import ReplayBound, run_replay
from adapters.rerun import run_rerun
from adapters.stores import open_store


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="where the SQLite store lives")
    p.add_argument("--config", type=Path, help="the server's TOML file: its [store] url names the store")
    p.add_argument("--store", help="event store URL instead of DATA_DIR/events.db")


def add_parsers(sub: Any) -> None:
    replay = sub.add_parser(
        "replay", help="rebuild live state from a stored log and show a station's timeline"
    )
    _store_options(replay)
    replay.add_argument("--station", help="one station's timeline and state (default: every station's state)")
    at = replay.add_mutually_exclusive_group()
    at.add_argument(
        "--at", help="stop at this wall time (ISO 8601 with an offset, e.g. 2026-11-21T10:00:00Z)"
    )
    at.add_argument("--position", type=int, help="stop at this global position")
    replay.add_argument("--json", action="store_true", help="machine-readable output (diff two builds)")
    replay.add_argument(
        "--rerun",
        action="store_true",
        help="re-decide every recorded frame with this build (and --config's [fleet] policy) and "
        "report where it differs from the log: exit 0 none, 1 differences, 2 error",
    )

    events = sub.add_parser("events", help="tail, export or import the event log")
    actions = events.add_subparsers(dest="events_command", required=True)
    tail = actions.add_parser("tail", help="print events as JSON lines and follow the log")
    _store_options(tail)
    tail.add_argument("--station")
    tail.add_argument("--after", type=int, default=0, help="start after this global position")
    export = actions.add_parser("export", help="write the log as a msgpack stream")
    _store_options(export)
    export.add_argument("--station")
    export.add_argument("--out", type=Path, help="file to write (default: stdout)")
    imp = actions.add_parser("import", help="append a msgpack export to a store")
    _store_options(imp)
    imp.add_argument("file", type=Path, help="the export to read ('-' for stdin)")


def _url(args: argparse.Namespace) -> str:
    """The store to open, found as ``serve`` finds it: ``--store``, else ``CHARGEWARD_STORE_URL``, else
    the ``--config`` file's ``[store] url``, else the data dir's SQLite file (which only an import may
    create)."""
    if args.store:
        return str(args.store)
    configured = load_config(args.config, Config(data_dir=args.data_dir), os.environ).store_url
    if configured is not None:
        return configured
    path = (args.data_dir / "events.db").resolve()
    creating = args.command == "events" and args.events_command == "import"
    if not path.exists():
        if not creating:
            raise ConfigError("command line", "--data-dir", f"no event store at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _bound(args: argparse.Namespace) -> ReplayBound:
    if args.at is None:
        return ReplayBound(position=args.position)
    try:
        moment = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
    except ValueError as error:
        raise ConfigError("command line", "--at", f"not an ISO 8601 time: {args.at!r}") from error
    if moment.tzinfo is None:
        raise ConfigError("command line", "--at", "give a UTC offset (e.g. ...Z or +01:00)")
    return ReplayBound(time=moment)


def _rerun_policy(args: argparse.Namespace) -> FleetPolicy:
    """The fleet policy to re-run with: ``--config``'s, as ``serve`` would load it, else the default."""
    if args.at is not None or args.position is not None:
        raise ConfigError(
            "command line", "--rerun", "re-runs the whole log; --at and --position do not apply"
        )
    return load_config(args.config, Config(data_dir=args.data_dir), os.environ).fleet_policy


async def run(args: argparse.Namespace) -> int:
    url = _url(args)
    async with open_store(url) as store:
        if args.command == "replay" and args.rerun:
            return await run_rerun(store, args.station, _rerun_policy(args), args.json)
        if args.command == "replay":
            return await run_replay(store, args.station, _bound(args), args.json)
        if args.events_command == "tail":
            await tail_events(store, sys.stdout, args.station, args.after)
            return 0
        if args.events_command == "export":
            if args.out is None:
                await export_events(store, sys.stdout.buffer, args.station, progress=sys.stderr)
            else:
                with args.out.open("wb") as out:
                    await export_events(store, out, args.station, progress=sys.stderr)
            return 0
        try:
            if str(args.file) == "-":
                count = await import_events(store, sys.stdin.buffer, progress=sys.stderr)
            else:
                with args.file.open("rb") as source:
                    count = await import_events(store, source, progress=sys.stderr)
        except BadExport as error:
            print(f"chargeward: {args.file}: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"chargeward: {args.file}: {error.strerror}", file=sys.stderr)
            return 2
        config = load_config(args.config, Config(data_dir=args.data_dir), os.environ)
        position = await checkpoint_state(store, config)
        print(f"imported {count} events into {url}; state checkpointed at {position}", file=sys.stderr)
        return 0
