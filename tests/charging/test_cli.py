"""``chargeward schedule`` as an operator runs it: the installed executable on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from actors.ocpp import Policy, Validator
from tests.charging.builders import T0, at, request

CHARGEWARD = str(Path(sys.executable).with_name("chargeward"))


def chargeward(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHARGEWARD, *args], capture_output=True, text=True, timeout=60)


def profiles_file(tmp_path: Path, payloads: list[dict[str, Any]] | str) -> str:
    path = tmp_path / "profiles.json"
    path.write_text(payloads if isinstance(payloads, str) else json.dumps(payloads, indent=1))
    return str(path)


SITE = [
    # the station may draw 22 kW; evenings 17:00-21:00 (CET) the default drops to 10 A; a running
    # transaction got 16 A for its first hour
    request(1, [(0, 22000.0)], connector=0, purpose="ChargePointMaxProfile", unit="W"),
    request(2, [(0, 32.0)], connector=1),
    request(
        3,
        [(0, 10.0)],
        connector=1,
        stack=1,
        kind="Recurring",
        recurrencyKind="Daily",
        start=at(16),
        duration=4 * 3600,
    ),
    request(
        4, [(0, 16.0, 1)], connector=1, purpose="TxProfile", kind="Relative", duration=3600, transactionId=7
    ),
]


def test_the_composite_as_a_get_composite_schedule_conf(tmp_path: Path) -> None:
    path = profiles_file(tmp_path, SITE)
    args = ["--profiles", path, "--connector", "1", "--start", "2026-11-27T12:00:00Z", "--duration", "43200"]
    done = chargeward(
        "schedule", *args, "--transaction-start", "2026-11-27T11:30:00Z", "--transaction-id", "7", "--json"
    )
    assert done.returncode == 0, done.stderr
    conf = json.loads(done.stdout)
    Validator("1.6", Policy.STRICT).validate_response("GetCompositeSchedule", conf)
    assert conf == {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-11-27T12:00:00Z",
        "chargingSchedule": {
            "duration": 43200,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16.0, "numberPhases": 1},  # the TxProfile, 30 min left
                {"startPeriod": 1800, "limit": 31.8, "numberPhases": 3},  # 32 A capped by 22 kW / 690 V
                {"startPeriod": 4 * 3600, "limit": 10.0, "numberPhases": 3},  # 16:00 UTC, daily
                {"startPeriod": 8 * 3600, "limit": 31.8, "numberPhases": 3},
            ],
        },
    }
    other = chargeward(
        "schedule", *args, "--transaction-id", "8", "--unit", "W", "--voltage", "240", "--json"
    )
    periods = json.loads(other.stdout)["chargingSchedule"]["chargingSchedulePeriod"]
    assert [(p["startPeriod"], p["limit"]) for p in periods] == [
        (0, 22000.0),
        (4 * 3600, 7200.0),
        (8 * 3600, 22000.0),
    ]


def test_the_table(tmp_path: Path) -> None:
    path = profiles_file(tmp_path, SITE[:3])
    done = chargeward(
        "schedule",
        "--profiles",
        path,
        "--connector",
        "1",
        "--start",
        "2026-11-27T16:00:00+01:00",
        "--duration",
        "7200",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "connector 1, 2026-11-27T16:00:00+01:00 for 7200 s, in A (230 V, 3 phases unless a period says)",
        "startPeriod  from                             limit  phases",
        "          0  2026-11-27T16:00:00+01:00       31.8 A  3",
        "       3600  2026-11-27T17:00:00+01:00       10.0 A  3",
        "       7200  2026-11-27T18:00:00+01:00 (end)",
    ]


def test_stretches_without_a_limit(tmp_path: Path) -> None:
    path = profiles_file(
        tmp_path,
        [request(1, [(0, 16.0)], duration=600, start=T0), request(2, [(0, 8.0)], stack=1, start=at(1))],
    )
    args = [
        "schedule",
        "--profiles",
        path,
        "--connector",
        "1",
        "--start",
        "2026-11-27T00:00:00Z",
        "--duration",
        "7200",
    ]
    table = chargeward(*args)
    assert ["600", "2026-11-27T00:10:00Z", "no", "limit"] in [
        line.split() for line in table.stdout.splitlines()
    ]
    as_conf = chargeward(*args, "--json")
    periods = json.loads(as_conf.stdout)["chargingSchedule"]["chargingSchedulePeriod"]
    assert [p["startPeriod"] for p in periods] == [0, 3600]
    assert "cannot say 'no limit' between two limits" in as_conf.stderr
    capped = chargeward(*args, "--json", "--max", "32")
    periods = json.loads(capped.stdout)["chargingSchedule"]["chargingSchedulePeriod"]
    assert [(p["startPeriod"], p["limit"]) for p in periods] == [(0, 16.0), (600, 32.0), (3600, 8.0)]
    assert capped.stderr == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            json.dumps([request(5, [(0, 16.0), (0, 8.0)])]),
            "profile 5: chargingSchedule.chargingSchedulePeriod[1].startPeriod: must be after the one before",
        ),
        (
            json.dumps([request(6, [(0, 16.05)])]),
            "profile 6: chargingSchedule.chargingSchedulePeriod[0].limit",
        ),
        (json.dumps([request(1, [(0, 16)]), {"connectorId": 1}]), "entry 1: csChargingProfiles: missing"),
        ('{"connectorId": 1}', "file: must be a JSON list of SetChargingProfile requests"),
        ("[{", "not JSON"),
    ],
)
def test_a_bad_file_is_one_line_naming_profile_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = profiles_file(tmp_path, content)
    done = chargeward(
        "schedule",
        "--profiles",
        path,
        "--connector",
        "1",
        "--start",
        "2026-11-27T00:00:00Z",
        "--duration",
        "60",
    )
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"chargeward: {path}: {message}")


def test_bad_flags_are_one_line_too(tmp_path: Path) -> None:
    path = profiles_file(tmp_path, SITE)
    base = ["schedule", "--profiles", path, "--connector", "1", "--duration", "60"]
    for extra, message in [
        (["--start", "2026-11-27T00:00:00"], "command line: --start: give a UTC offset"),
        (["--start", "noon"], "command line: --start: not an ISO 8601 time: 'noon'"),
        (
            ["--start", "2026-11-27T00:00:00Z", "--voltage", "-230"],
            "command line: --voltage: must be a positive number",
        ),
        (
            ["--start", "2026-11-27T00:00:00Z", "--phases", "4"],
            "command line: --phases: must be 1, 2 or 3, got 4",
        ),
    ]:
        done = chargeward(*base, *extra)
        assert done.returncode == 2
        [line] = done.stderr.splitlines()
        assert line.startswith(f"chargeward: {message}")
    missing = chargeward(
        "schedule",
        "--profiles",
        str(tmp_path / "none.json"),
        "--connector",
        "1",
        "--start",
        "2026-11-27T00:00:00Z",
        "--duration",
        "60",
    )
    assert missing.returncode == 2 and "No such file or directory" in missing.stderr


def test_the_readme_example_is_what_the_command_prints() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    args = [
        "--profiles",
        "docs/examples/profiles.json",
        "--connector",
        "1",
        "--start",
        "2026-11-27T16:00:00+01:00",
    ]
    args += [
        "--duration",
        "21600",
        "--transaction-start",
        "2026-11-27T15:40:00+01:00",
        "--transaction-id",
        "4711",
    ]
    for extra in ([], ["--json"]):
        done = subprocess.run(
            [CHARGEWARD, "schedule", *args, *extra], capture_output=True, text=True, timeout=60, cwd=root
        )
        assert done.returncode == 0 and done.stdout in readme, done.stdout
