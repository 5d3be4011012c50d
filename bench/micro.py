"""Micro-benchmarks of the core: actor messaging, event-store appends, OCPP validation.

``python -m bench.micro`` (or ``make bench-micro``) runs all three and writes
``bench/results/micro.json`` and ``bench/results/micro.md``, which the README links.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from bench import actor_micro, store_micro, validation_micro

RESULTS = Path(__file__).resolve().parent / "results"


def _markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Core micro-benchmarks",
        "",
        f"Measured {results['when']} on {results['machine']} (one process, one trio thread).",
        "Regenerate with `make bench-micro`.",
        "",
    ]
    for section, figures in results["figures"].items():
        lines += [f"## {section}", "", "| measurement | value |", "| --- | --- |"]
        lines += [f"| {key} | {value} |" for key, value in _flatten(figures)]
        lines.append("")
    return "\n".join(lines)


def _flatten(figures: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(figures, dict):
        out: list[tuple[str, Any]] = []
        for key, value in figures.items():
            out += _flatten(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}")
        return out
    return [(prefix, figures)]


def main() -> None:
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "figures": {
            "actors (send / ask)": actor_micro.run(),
            "event store (SQLite, batching writer)": store_micro.run(),
            "OCPP validation (MeterValues, 10 sampled values)": validation_micro.run(),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "micro.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "micro.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    main()
