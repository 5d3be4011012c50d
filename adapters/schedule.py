"""``chargeward schedule``: a connector's composite schedule from a file of charging profiles, offline.

The file is a JSON list of SetChargingProfile requests as an OCPP 1.6 station receives them, in the
order it received them (a later one replaces an earlier one as the station would). The computation
is :func:`actors.charging.composite_schedule`; this module only reads the file and the flags and
prints the result, as a table or (``--json``) as a 1.6 GetCompositeSchedule.conf.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from actors.charging import (
    CompositeSchedule,
    Electrical,
    ProfileError,
    Transaction,
    Unit,
    composite_conf,
    composite_schedule,
    parse_profiles,
    parse_time,
    wire_time,
)
from adapters.config import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "schedule",
        help="compute a connector's composite schedule from a file of SetChargingProfile requests",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profiles", type=Path, required=True, help="JSON list of SetChargingProfile requests")
    p.add_argument("--connector", type=int, required=True, help="connector id (0: the station as a whole)")
    p.add_argument("--start", required=True, help="ISO 8601 with an offset, e.g. 2026-11-27T00:00:00Z")
    p.add_argument("--duration", type=int, required=True, help="seconds")
    p.add_argument("--unit", choices=["A", "W"], default="A", help="unit of the limits (default A)")
    p.add_argument("--voltage", default="230", help="station voltage for A<->W (default 230)")
    p.add_argument("--phases", type=int, default=3, help="phases where a period does not say (default 3)")
    p.add_argument("--transaction-start", help="start of the transaction in progress (ISO 8601)")
    p.add_argument("--transaction-id", type=int, help="id of the transaction in progress")
    p.add_argument(
        "--max", help="the connector's maximum in --unit, where no profile applies (default: no limit)"
    )
    p.add_argument("--json", action="store_true", help="print a 1.6 GetCompositeSchedule.conf")


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Compute and print; a bad flag raises ConfigError, a bad file is one line on ``err`` and 2."""
    start = _time("--start", args.start)
    if args.duration <= 0:
        raise ConfigError("command line", "--duration", f"must be positive, got {args.duration}")
    if args.connector < 0:
        raise ConfigError("command line", "--connector", f"must be 0 or more, got {args.connector}")
    if args.phases not in (1, 2, 3):
        raise ConfigError("command line", "--phases", f"must be 1, 2 or 3, got {args.phases}")
    electrical = Electrical(_positive("--voltage", args.voltage), args.phases)
    maximum = None if args.max is None else _positive("--max", args.max)
    transaction = None
    if args.transaction_start is not None or args.transaction_id is not None:
        began = (
            start if args.transaction_start is None else _time("--transaction-start", args.transaction_start)
        )
        transaction = Transaction(began, args.transaction_id)
    try:
        payloads = json.loads(args.profiles.read_text(), parse_float=Decimal)
        installed = parse_profiles(payloads)
    except OSError as error:
        print(f"chargeward: {args.profiles}: {error.strerror}", file=err)
        return 2
    except json.JSONDecodeError as error:
        print(f"chargeward: {args.profiles}: not JSON: {error}", file=err)
        return 2
    except ProfileError as error:
        print(f"chargeward: {args.profiles}: {error}", file=err)
        return 2
    schedule = composite_schedule(
        installed,
        args.connector,
        start,
        args.duration,
        Unit(args.unit),
        electrical=electrical,
        transaction=transaction,
        connector_max=maximum,
    )
    if args.json:
        json.dump(composite_conf(schedule, args.connector), out)
        out.write("\n")
        gaps = [p.start for p in schedule.periods[1:-1] if p.limit is None]
        if gaps:
            print(
                f"chargeward: no profile limits connector {args.connector} from {gaps[0]} s on for a while, "
                "and a 1.6 schedule cannot say 'no limit' between two limits: the period before reads as "
                "lasting through it (give --max, or see the table without --json)",
                file=err,
            )
    else:
        out.write(table(schedule, args.connector, electrical))
    return 0


def table(schedule: CompositeSchedule, connector: int, electrical: Electrical) -> str:
    unit = schedule.unit.value
    lines = [
        f"connector {connector}, {wire_time(schedule.start)} for {schedule.duration} s, in {unit} "
        f"({electrical.voltage} V, {electrical.phases} phases unless a period says)",
        f"{'startPeriod':>11}  {'from':<25} {'limit':>12}  phases",
    ]
    for period in schedule.periods:
        moment = wire_time(schedule.start + timedelta(seconds=period.start))
        limit = "no limit" if period.limit is None else f"{period.limit} {unit}"
        phases = "" if period.limit is None else str(period.phases)
        lines.append(f"{period.start:>11}  {moment:<25} {limit:>12}  {phases}".rstrip())
    end = wire_time(schedule.start + timedelta(seconds=schedule.duration))
    lines.append(f"{schedule.duration:>11}  {end:<25} (end)")
    if schedule.min_rate is not None:
        lines.append(f"minChargingRate {schedule.min_rate} {unit}")
    return "\n".join(lines) + "\n"


def _time(flag: str, text: str) -> datetime:
    moment = parse_time(text)
    if moment is None:
        raise ConfigError("command line", flag, f"not an ISO 8601 time: {text!r}")
    if moment.tzinfo is None:
        raise ConfigError("command line", flag, "give a UTC offset (e.g. ...Z or +01:00)")
    return moment


def _positive(flag: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigError("command line", flag, f"not a number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError("command line", flag, f"must be a positive number, got {text}")
    return value
