"""Micro-benchmark: the composite schedule of a connector over one day, as issue 12 sizes it.

Five profiles of 96 periods each, the shapes a real site stacks: a station cap in W
(``ChargePointMaxProfile``), a default on connector 0 and one on the connector (quarter hours over
the day), a daily recurring night default from 18:00 anchored the day before (so it crosses
midnight) and a relative ``TxProfile`` for the running transaction (5-minute periods over 8 hours),
mixing A and W so the unit conversion runs. Measured per call, as the median of several rounds of
many calls each (milliseconds):

- ``composite_a_ms`` / ``composite_w_ms``: :func:`actors.charging.composite_schedule` for the day
  (86,400 s) in A and in W;
- ``composite_week_ms``: the same over seven days (the recurring profile recurs 7 times);
- ``parse_ms``: :func:`actors.charging.parse_profiles` of the five requests;
- ``trim_ms``: :func:`actors.charging.trim` of the day's composite to 24 periods of at least
  15 minutes in 0.1 A steps.

Run ``python -m bench.schedule_micro`` to print the figures and write
``bench/results/schedule-micro.json`` and ``.md``.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from actors.charging import Transaction, Unit, composite_schedule, parse_profiles, trim
from bench.report import write_micro

START = datetime(2026, 11, 27, tzinfo=UTC)
PERIODS = 96
QUARTER = 900


def _wire(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _request(
    ident: int,
    connector: int,
    purpose: str,
    kind: str,
    stack: int,
    unit: str,
    base: float,
    every: int = QUARTER,
    **extra: Any,
) -> dict[str, Any]:
    """A SetChargingProfile request with 96 periods of ``every`` seconds, limits wandering around ``base``."""
    step = 100.0 if unit == "W" else 0.1
    periods = [
        {"startPeriod": i * every, "limit": round(base + ((i * 7 + ident * 13) % 23 - 11) * step * 5, 1)}
        for i in range(PERIODS)
    ]
    schedule: dict[str, Any] = {"chargingRateUnit": unit, "chargingSchedulePeriod": periods}
    schedule.update(extra.pop("schedule", {}))
    return {
        "connectorId": connector,
        "csChargingProfiles": {
            "chargingProfileId": ident,
            "stackLevel": stack,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind,
            "chargingSchedule": schedule,
            **extra,
        },
    }


def day_of_profiles() -> list[dict[str, Any]]:
    """The five requests, 96 periods each."""
    day = {"startSchedule": _wire(START), "duration": PERIODS * QUARTER}
    return [
        _request(1, 0, "ChargePointMaxProfile", "Absolute", 0, "W", 20000.0, schedule=day),
        _request(2, 0, "TxDefaultProfile", "Absolute", 0, "A", 28.0, schedule=day),
        _request(3, 1, "TxDefaultProfile", "Absolute", 1, "W", 15000.0, schedule=day),
        _request(
            4,
            1,
            "TxDefaultProfile",
            "Recurring",
            2,
            "A",
            12.0,
            every=300,
            recurrencyKind="Daily",
            schedule={"startSchedule": _wire(START - timedelta(hours=6)), "duration": 8 * 3600},
        ),
        _request(
            5, 1, "TxProfile", "Relative", 0, "A", 20.0, 300, transactionId=7, schedule={"duration": 8 * 3600}
        ),
    ]


def _per_call_ms(fn: Callable[[], object], number: int, rounds: int) -> float:
    fn()
    return statistics.median(timeit.Timer(fn).repeat(repeat=rounds, number=number)) / number * 1e3


def run(number: int = 20, rounds: int = 7) -> dict[str, Any]:
    payloads = day_of_profiles()
    installed = parse_profiles(payloads)
    transaction = Transaction(START + timedelta(hours=9), 7)

    def composite(unit: Unit, days: int = 1) -> Any:
        return composite_schedule(installed, 1, START, days * 86_400, unit, transaction=transaction)

    day = composite(Unit.A)
    figures = {
        "composite_a_ms": _per_call_ms(lambda: composite(Unit.A), number, rounds),
        "composite_w_ms": _per_call_ms(lambda: composite(Unit.W), number, rounds),
        "composite_week_ms": _per_call_ms(lambda: composite(Unit.A, 7), max(number // 5, 2), rounds),
        "parse_ms": _per_call_ms(lambda: parse_profiles(payloads), number, rounds),
        "trim_ms": _per_call_ms(
            lambda: trim(day, max_periods=24, min_period=QUARTER, step=Decimal("0.1")), number, rounds
        ),
    }
    return {
        **{key: round(value, 3) for key, value in figures.items()},
        "profiles": len(payloads),
        "periods_per_profile": PERIODS,
        "composite_periods_day": len(day.periods),
        "number": number,
        "rounds": rounds,
    }


def _markdown(results: dict[str, Any]) -> str:
    figures = results["figures"]
    lines = [
        "# Composite schedule micro-benchmark",
        "",
        f"Measured {results['when']} on {results['machine']}, `python -m bench.schedule_micro`.",
        "This 2-core machine was shared with other builds and their tests while it ran: read the",
        "figures as sizes, medians of "
        f"{figures['rounds']} rounds of {figures['number']} calls (a fifth as many for the week). Load "
        f"average when it started (1, 5, 15 min): {', '.join(map(str, results['load_average_1_5_15']))}.",
        "",
        f"Input: {figures['profiles']} profiles of {figures['periods_per_profile']} periods: a W station cap "
        "and defaults on connector 0 and 1 in quarter hours over the day, a daily recurring night default "
        "and a relative TxProfile in 5-minute periods over 8 hours; the day's composite has "
        f"{figures['composite_periods_day']} periods.",
        "",
        "| measurement | median |",
        "| --- | --- |",
        f"| composite schedule, one day, in A | {figures['composite_a_ms']} ms |",
        f"| composite schedule, one day, in W | {figures['composite_w_ms']} ms |",
        f"| composite schedule, seven days, in A | {figures['composite_week_ms']} ms |",
        f"| parse and check the five SetChargingProfile requests | {figures['parse_ms']} ms |",
        f"| trim the day to 24 periods of >= 15 min, 0.1 A steps | {figures['trim_ms']} ms |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    write_micro("schedule-micro", run(), _markdown)


if __name__ == "__main__":
    main()
