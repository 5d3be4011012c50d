"""Start-up bench: how long ``chargeward serve`` takes to be ready on a large log, and what it holds after.

``python -m bench.startup --events 10000 100000 1000000`` generates each log with :mod:`bench.big_log`,
imports it with ``chargeward events import`` into a fresh data dir (the import ends by checkpointing
the live state), then starts the real ``chargeward serve`` process on it and polls until it is
ready: the OCPP port accepts a connection, ``/api/stations`` answers and lists every station of the
log, and ``/metrics`` shows the live projection folded up to the store's head (live state complete).
It records the time to each of those from the process start and, once ready, the server's RSS and
that of its process tree (the SQLite committer is a child), against the same for an empty log.

Three kinds of start per log: *first*, the first ``serve`` after the import (once); *warm*, a
restart after a clean stop (``--repeat`` times); *refold*, a start with the store's snapshots
deleted, which folds the whole log as a start without a usable checkpoint does (after an upgrade
that changes the state's shape or folds; ``--repeat`` times). Issue 11's target at
10^6 events: ready in <= 5 s, RSS growth <= 100 MiB. Results go to ``bench/results/<label>.json`` and
``.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.big_log import write_export
from bench.servers import free_ports, process_tree

RESULTS = Path(__file__).parent / "results"
TARGET_READY_S = 5.0
TARGET_RSS_GROWTH_MIB = 100.0
TARGET_EVENTS = 1_000_000
POLL_S = 0.02
_POSITION = re.compile(r'^chargeward_projection_position\{projection="live"\} (\S+)$', re.M)
_HEAD = re.compile(r"^chargeward_store_head_position (\S+)$", re.M)


def _chargeward() -> str:
    return str(Path(sys.executable).parent / "chargeward")


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (the peak so far) of a process, in KiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, OSError, TimeoutError):
        return None


def _live_complete(api: str, min_head: int) -> bool:
    """The live projection has folded everything the store holds (at least the imported log)."""
    text = _get(f"{api}/metrics")
    if text is None:
        return False
    position, head = _POSITION.search(text), _HEAD.search(text)
    if position is None or head is None:
        return False
    return float(position.group(1)) >= max(float(head.group(1)), min_head)


def _stations_listed(api: str, stations: int) -> bool:
    """``/api/stations``, page by page, lists at least ``stations`` stations."""
    seen, url = 0, f"{api}/api/stations?limit=200"
    while True:
        text = _get(url)
        if text is None:
            return False
        page = json.loads(text)
        seen += len(page["stations"])
        if page["next_after"] is None or seen >= stations:
            return seen >= stations
        url = f"{api}/api/stations?limit=200&after={urllib.parse.quote(page['next_after'])}"


def _checks(
    ocpp_port: int, api: str, stations: int, events: int, seen: dict[str, float]
) -> Iterator[tuple[str, bool]]:
    """Each readiness condition not yet seen, and whether it holds now."""
    if "ocpp_open_s" not in seen:
        yield "ocpp_open_s", _port_open(ocpp_port)
    if "stations_listed_s" not in seen:
        yield "stations_listed_s", _stations_listed(api, stations)
    if "live_complete_s" not in seen:
        yield "live_complete_s", _live_complete(api, events)


def measure_start(data_dir: Path, stations: int, events: int, timeout: float = 600.0) -> dict[str, Any]:
    """Start ``chargeward serve`` on ``data_dir`` and time it to ready; stop it; return the figures."""
    ocpp_port, api_port = free_ports(2)
    api = f"http://127.0.0.1:{api_port}"
    argv = [
        _chargeward(),
        "serve",
        "--data-dir",
        str(data_dir),
        "--ocpp-port",
        str(ocpp_port),
        "--api-port",
        str(api_port),
    ]
    log = (data_dir / "serve.log").open("ab")
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    seen: dict[str, float] = {}
    try:
        while len(seen) < 3:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"chargeward serve exited with {proc.returncode}; see {data_dir / 'serve.log'}"
                )
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"not ready within {timeout} s: reached {sorted(seen)}")
            for name, done in _checks(ocpp_port, api, stations, events, seen):
                if done:
                    seen[name] = time.monotonic() - started
            time.sleep(POLL_S)
        ready = max(seen.values())
        time.sleep(1.0)  # let start-up garbage settle before reading RSS
        tree = process_tree(proc.pid)
        return {
            "ready_s": round(ready, 3),
            **{name: round(value, 3) for name, value in seen.items()},
            "rss_mib": round(_rss_kib(proc.pid) / 1024, 1),
            "rss_tree_mib": round(sum(_rss_kib(pid) for pid in tree) / 1024, 1),
            "peak_rss_mib": round(_rss_kib(proc.pid, "VmHWM") / 1024, 1),
        }
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def drop_snapshots(data_dir: Path) -> None:
    """Delete every checkpoint and snapshot in the store: the next start folds the log from 0."""
    db = data_dir / "events.db"
    if db.exists():
        with sqlite3.connect(db) as connection:
            tables = connection.execute("SELECT name FROM sqlite_master WHERE name='chargeward_snapshots'")
            if tables.fetchone() is not None:
                connection.execute("DELETE FROM chargeward_snapshots")


def prepare(workdir: Path, events: int, stations: int | None) -> dict[str, Any]:
    """Generate a log of ``events`` and import it into ``workdir/data``; returns sizes and times."""
    export = workdir / "log.msgpack"
    t0 = time.monotonic()
    summary = (
        write_export(export, events, stations) if events else {"events": 0, "stations": 0, "transactions": 0}
    )
    generated = time.monotonic() - t0
    data_dir = workdir / "data"
    t0 = time.monotonic()
    if events:
        subprocess.run(
            [_chargeward(), "events", "import", "--data-dir", str(data_dir), str(export)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        export.unlink()
    else:
        data_dir.mkdir(parents=True)
    imported = time.monotonic() - t0
    db = data_dir / "events.db"
    return {
        **summary,
        "generate_s": round(generated, 1),
        "import_s": round(imported, 1),
        "db_mib": round(db.stat().st_size / 2**20, 1) if db.exists() else 0.0,
        "data_dir": data_dir,
    }


FIGURES = (
    "ready_s",
    "ocpp_open_s",
    "stations_listed_s",
    "live_complete_s",
    "rss_mib",
    "rss_tree_mib",
    "peak_rss_mib",
)
MODES = ("first", "warm", "refold")


def measure_modes(log: dict[str, Any], repeat: int) -> dict[str, list[dict[str, Any]]]:
    """The first start after the import, ``repeat`` warm restarts, ``repeat`` starts without snapshots."""
    data_dir, stations, events = log["data_dir"], log["stations"], log["events"]
    runs: dict[str, list[dict[str, Any]]] = {"first": [measure_start(data_dir, stations, events)]}
    runs["warm"] = [measure_start(data_dir, stations, events) for _ in range(repeat)]
    runs["refold"] = []
    for _ in range(repeat):
        drop_snapshots(data_dir)
        runs["refold"].append(measure_start(data_dir, stations, events))
    return runs


def run(sizes: list[int], repeat: int, stations: int | None, workroot: Path) -> dict[str, Any]:
    """Measure an empty log and each size; every start is on the same imported store."""
    rows: list[dict[str, Any]] = []
    for events in [0, *sizes]:
        workdir = Path(tempfile.mkdtemp(prefix=f"startup-{events}-", dir=workroot))
        log = prepare(workdir, events, stations)
        runs = measure_modes(log, repeat)
        row = {key: value for key, value in log.items() if key != "data_dir"}
        row["runs"] = runs
        for mode in MODES:
            row[mode] = {key: statistics.median(r[key] for r in runs[mode]) for key in FIGURES}
        row.update(row["warm"])  # the headline figures: a restart of a server that checkpointed
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "runs"}), file=sys.stderr, flush=True)
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    base = rows[0]
    for row in rows:
        row["rss_growth_mib"] = round(row["rss_mib"] - base["rss_mib"], 1)
        row["rss_tree_growth_mib"] = round(row["rss_tree_mib"] - base["rss_tree_mib"], 1)
        for mode in MODES:
            row[mode]["rss_growth_mib"] = round(row[mode]["rss_mib"] - base[mode]["rss_mib"], 1)
    return {
        "repeat": repeat,
        "target": {
            "ready_s": TARGET_READY_S,
            "rss_growth_mib": TARGET_RSS_GROWTH_MIB,
            "at_events": TARGET_EVENTS,
        },
        "rows": rows,
    }


def _verdict(result: dict[str, Any]) -> str:
    at = [r for r in result["rows"] if r["events"] >= TARGET_EVENTS]
    if not at:
        return f"No log of {TARGET_EVENTS:,} events was measured in this run, so the target is not judged."
    r = at[0]
    parts = []
    for mode in MODES:
        m = r[mode]
        ready = "met" if m["ready_s"] <= TARGET_READY_S else "missed"
        rss = "met" if m["rss_growth_mib"] <= TARGET_RSS_GROWTH_MIB else "missed"
        parts.append(
            f"- {mode} start: ready in {m['ready_s']} s (target <= {TARGET_READY_S:g} s: {ready}), "
            f"RSS growth {m['rss_growth_mib']} MiB (target <= {TARGET_RSS_GROWTH_MIB:g} MiB: {rss})."
        )
    return f"At {r['events']:,} events:\n\n" + "\n".join(parts)


def _table(rows: list[dict[str, Any]], mode: str | None) -> list[str]:
    lines = [
        "| events | stations | transactions | db MiB | import s | ready s | OCPP open s | stations listed s "
        "| live complete s | RSS MiB | RSS growth MiB | tree RSS MiB | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        m = r if mode is None else r[mode]
        lines.append(
            f"| {r['events']:,} | {r['stations']} | {r['transactions']:,} | {r['db_mib']} | {r['import_s']} "
            f"| {m['ready_s']} | {m['ocpp_open_s']} | {m['stations_listed_s']} | {m['live_complete_s']} "
            f"| {m['rss_mib']} | {m['rss_growth_mib']} | {m['rss_tree_mib']} | {m['peak_rss_mib']} |"
        )
    return lines


MODE_TITLES = {
    "first": "First start after the import (once; the import ended by checkpointing the state)",
    "warm": "Warm restart after a clean stop (median of the repeats)",
    "refold": "Start without snapshots (deleted before each start): the whole log folded",
}


def to_markdown(result: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The results page: how it was measured, a table per kind of start (medians), the verdict, and
    the figures of the build before checkpoints (``before``) when given."""
    repeat = result.get("repeat", 1)
    lines = [
        "# Start-up on large logs (`python -m bench.startup`)",
        "",
        "Each log is generated by `bench/big_log.py` (stations booting, reporting status and charging,",
        "every exchange recorded as FrameReceived, domain events, FrameSent) and imported with",
        "`chargeward events import`, which ends by checkpointing the live state into the store (its time",
        "is in *import s*). The real `chargeward serve` is then started on it: once right after the",
        f"import (*first*), {repeat} time(s) after a clean stop (*warm*), and {repeat} time(s)",
        "with the store's snapshots deleted (*refold*: the whole log is folded, as after an upgrade that",
        "invalidates the checkpoint). *ready* is the latest of: OCPP port accepting, `/api/stations`",
        "listing every station, and `/metrics` showing the live projection at the store's head. RSS is",
        "read 1 s after ready; *tree* adds the SQLite committer child; *peak* is the server's high-water",
        "mark (VmHWM) up to then. Growth is over the empty log's row of the same kind of start. Times",
        "are from the process start (interpreter start included).",
    ]
    if result.get("conditions"):
        lines += ["", f"Conditions: {result['conditions']}"]
    for mode in MODES:
        lines += ["", f"## {MODE_TITLES[mode]}", "", *_table(result["rows"], mode)]
    lines += ["", "## Verdict", "", _verdict(result)]
    if before is not None:
        lines += [
            "",
            "## Before (no checkpoints: every start folded the whole log)",
            "",
            *_table(before["rows"], None),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--stations", type=int, help="default: bench.big_log.default_stations(events)")
    p.add_argument("--repeat", type=int, default=3, help="starts per log (the median is reported)")
    p.add_argument("--label", default="startup", help="write bench/results/LABEL.json and .md")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()), help="where logs are built")
    p.add_argument("--conditions", default="", help="how the machine was loaded, for the results page")
    p.add_argument("--before", type=Path, help="an earlier result (JSON) to show under the new figures")
    args = p.parse_args(argv)
    result = run(args.events, args.repeat, args.stations, args.workdir)
    result["conditions"] = args.conditions
    before = json.loads(args.before.read_text()) if args.before else None
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{args.label}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.results / f"{args.label}.md").write_text(to_markdown(result, before))
    sys.stdout.write(to_markdown(result, before))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
