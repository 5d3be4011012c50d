"""Bench outputs: the JSON results, a markdown summary with ratios between servers, and a PNG of latency
percentiles against offered rate (one line per server and percentile)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REFERENCE = "chargeward"
PEERS = ("floor", "ocpp-peer")


def _ms(summary: dict[str, float], key: str) -> str:
    value = summary.get(key)
    return "-" if value is None else f"{value:.2f}"


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def _open_loop_points(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in run.get("steps", []) if s.get("offered_rate") is not None]


def _saturation(run: dict[str, Any]) -> float | None:
    steps = [s for s in run.get("steps", []) if s.get("offered_rate") is None]
    return steps[0]["achieved_rate"] if steps else None


def knee(steps: list[dict[str, Any]], tolerance: float = 5.0) -> float | None:
    """The highest offered rate before the server fell behind: the last step (by rate) whose achieved rate
    is within 5% of offered and whose p99 is within ``tolerance`` times the lowest step's p99."""
    points = sorted(
        (s for s in steps if s.get("offered_rate") and s["all"].get("p99_ms")),
        key=lambda s: s["offered_rate"],
    )
    if not points:
        return None
    floor_p99 = points[0]["all"]["p99_ms"]
    best = None
    for s in points:
        if s["achieved_rate"] < 0.95 * s["offered_rate"] or s["all"]["p99_ms"] > tolerance * floor_p99:
            break
        best = s["offered_rate"]
    return best


def markdown(runs: list[dict[str, Any]], title: str) -> str:
    lines = [f"# {title}", ""]
    failed = [r for r in runs if "error" in r]
    for r in failed:
        lines.append(f"- **{r['server']}** ({r['scenario']}) did not run: {r['error'].splitlines()[0]}")
    if failed:
        lines.append("")
    ok = [r for r in runs if "error" not in r]
    load = [r for r in ok if r.get("steps")]
    if load:
        lines += [
            "## Load (latency from the scheduled send time, ms; saturation is closed loop)",
            "",
            "| server | scenario | stations | offered/s | achieved/s | p50 | p90 | p99 | p99.9 | max |"
            " errors | timeouts | server CPU s/1000 msg | generator CPU util | send lag p99 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in load:
            for s in r["steps"]:
                a = s["all"]
                offered = "closed" if s["offered_rate"] is None else f"{s['offered_rate']:g}"
                lines.append(
                    f"| {r['server']} | {r['scenario']} | {r['stations']} | {offered} |"
                    f" {s['achieved_rate']:.0f} |"
                    f" {_ms(a, 'p50_ms')} | {_ms(a, 'p90_ms')} | {_ms(a, 'p99_ms')} | {_ms(a, 'p99.9_ms')} |"
                    f" {_ms(a, 'max_ms')} | {sum(s['errors'].values())} | {sum(s['timeouts'].values())} |"
                    f" {_num(s.get('server_cpu_s_per_1000'), '.3f')} |"
                    f" {_num(r['generator'].get('cpu_util'), '.2f')} | {_ms(s['send_lag'], 'p99_ms')} |"
                )
        lines.append("")
        for r in load:
            m = r.get("server_process", {}).get("metrics", {})
            for name in sorted(k.removesuffix("_mean") for k in m if k.endswith("_mean")):
                lines.append(
                    f"- {r['server']} {r['scenario']}: `{name}` mean {m[name + '_mean']:.4g}"
                    f" over {m[name + '_observations']:.0f} observations in the load phase"
                )
            if r["scenario"] == "ramp":
                found = knee(r["steps"])
                where = "below the first step" if found is None else f"{found:g} msg/s"
                lines.append(
                    f"- knee of {r['server']}: {where} (last step with achieved >= 95% of offered"
                    " and p99 <= 5x the first step's)"
                )
        lines.append("")
    storms = [r for r in ok if r["scenario"] == "storm"]
    if storms:
        lines += [
            "## Storm (all stations connect and boot at once)",
            "",
            "| server | stations | booted+status | settle s (last Accepted) | boot p50 ms | boot p99 ms |"
            " server RSS MiB | RSS/station KiB (delta) | connect errors | busiest generator worker CPU |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in storms:
            boot = r["setup"]["per_action"].get("BootNotification", {})
            sp = r.get("server_process", {})
            connect_errors = sum(v for k, v in r["setup"]["errors"].items() if k.startswith("connect"))
            lines.append(
                f"| {r['server']} | {r['stations']} | {r['setup']['set_up']} |"
                f" {_num(r['setup']['settle_s'], '.2f')} |"
                f" {_ms(boot, 'p50_ms')} | {_ms(boot, 'p99_ms')} | {_num(sp.get('rss_connected_mib'))} |"
                f" {_num(sp.get('rss_per_station_kib'))} | {connect_errors} |"
                f" {_num(r['generator'].get('max_worker_setup_util'), '.2f')} |"
            )
        lines.append("")
    lines += ratios(ok)
    return "\n".join(lines) + "\n"


def ratios(runs: list[dict[str, Any]]) -> list[str]:
    """chargeward against each peer (or, without chargeward, the ocpp peer against the floor)."""
    by_server: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_server.setdefault(r["server"], []).append(r)
    subject = REFERENCE if REFERENCE in by_server else "ocpp-peer"
    others = [p for p in (*PEERS, REFERENCE) if p != subject and p in by_server]
    if subject not in by_server or not others:
        return []
    lines = [f"## Ratios: {subject} against " + ", ".join(others), ""]
    mine_sat = [x for r in by_server[subject] if (x := _saturation(r)) is not None]
    for other in others:
        theirs_sat = [x for r in by_server[other] if (x := _saturation(r)) is not None]
        if mine_sat and theirs_sat:
            lines.append(
                f"- saturation throughput {subject}/{other}: {mine_sat[0] / theirs_sat[0]:.2f}x "
                f"({mine_sat[0]:.0f}/s vs {theirs_sat[0]:.0f}/s)"
            )
        theirs = {s["offered_rate"]: s for r in by_server[other] for s in _open_loop_points(r)}
        for r in by_server[subject]:
            for s in _open_loop_points(r):
                t = theirs.get(s["offered_rate"])
                if t and s["all"].get("p99_ms") and t["all"].get("p99_ms"):
                    lines.append(
                        f"- p99 at {s['offered_rate']:g}/s {subject}/{other}: "
                        f"{s['all']['p99_ms'] / t['all']['p99_ms']:.2f} "
                        f"({s['all']['p99_ms']:.2f} ms vs {t['all']['p99_ms']:.2f} ms)"
                    )
    lines.append("")
    return lines


def plot(runs: list[dict[str, Any]], path: Path, title: str) -> bool:
    """Latency percentiles against offered rate, log scale; False when no run had open-loop steps."""
    series = [(r["server"], _open_loop_points(r)) for r in runs if "error" not in r and _open_loop_points(r)]
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=90)
    for index, (server, points) in enumerate(series):
        points = sorted(points, key=lambda s: s["offered_rate"])
        rates = [p["offered_rate"] for p in points]
        color = f"C{index}"
        for key, style in (("p50_ms", ":"), ("p99_ms", "-"), ("p99.9_ms", "--")):
            values = [p["all"].get(key) for p in points]
            ax.plot(
                rates,
                values,
                style,
                color=color,
                marker="o",
                markersize=3,
                label=f"{server} {key.removesuffix('_ms')}",
            )
    ax.set_yscale("log")
    ax.set_xlabel("offered rate (messages/s, open loop)")
    ax.set_ylabel("round trip from scheduled send (ms)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write(runs: list[dict[str, Any]], out_dir: Path, label: str) -> list[Path]:
    """Write ``<label>.json``, ``<label>.md`` and (with open-loop data) ``<label>.png`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / f"{label}.json", out_dir / f"{label}.md"]
    written[0].write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n")
    written[1].write_text(markdown(runs, f"Bench: {label}"))
    png = out_dir / f"{label}.png"
    if plot(runs, png, f"{label}: latency vs offered rate"):
        written.append(png)
    return written


def write_micro(name: str, figures: dict[str, Any], to_markdown: Callable[[dict[str, Any]], str]) -> None:
    """Write a micro-benchmark's figures with when and where they were taken to bench/results/NAME.json
    and .md, and print the Markdown: the load average is kept because this machine is often shared."""
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, CPython {sys.version.split()[0]}",
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "figures": figures,
    }
    results_dir = Path(__file__).resolve().parent / "results"
    (results_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (results_dir / f"{name}.md").write_text(to_markdown(results))
    print(to_markdown(results))
