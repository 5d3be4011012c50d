"""``unknown_id_tags`` and id tag statuses are checked when the config is loaded (issue 10, defect 10).

A status outside OCPP's AuthorizationStatus used to load silently and then turn every Authorize of an
unknown tag into an InternalError (the answer fails its schema). Now the start is refused with the file,
the key and the allowed values.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from actors.policy import ID_TAG_STATUSES, FleetPolicy, IdTag
from adapters.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def _file(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "chargeward.toml"
    file.write_text(text)
    return file


@pytest.mark.parametrize("status", ID_TAG_STATUSES)
def test_every_authorization_status_loads(tmp_path: Path, status: str) -> None:
    file = _file(tmp_path, f'[fleet]\nunknown_id_tags = "{status}"\n[id_tags."T"]\nstatus = "{status}"\n')
    fleet = load_config(file).fleet
    assert fleet.unknown_id_tags == status and fleet.id_tags["T"].status == status


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[fleet]\nunknown_id_tags = "Rejected"\n', "fleet.unknown_id_tags"),
        ('[fleet]\nunknown_id_tags = "accepted"\n', "fleet.unknown_id_tags"),
        ('[id_tags."04A2"]\nstatus = "Rejected"\n', "id_tags.04A2.status"),
    ],
)
def test_a_bad_status_names_the_file_the_key_and_the_allowed_values(
    tmp_path: Path, text: str, key: str
) -> None:
    file = _file(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(file)
    assert (error.value.source, error.value.key) == (str(file), key)
    assert all(status in error.value.reason for status in ID_TAG_STATUSES), error.value.reason


def test_a_bad_status_from_the_environment_names_the_variable() -> None:
    variable = "CHARGEWARD_FLEET_UNKNOWN_ID_TAGS"
    with pytest.raises(ConfigError) as error:
        load_config(None, environ={variable: "Nope"})
    assert (error.value.source, error.value.key) == (f"environment {variable}", "fleet.unknown_id_tags")


def test_serve_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    file = _file(tmp_path, '[fleet]\nunknown_id_tags = "Rejected"\n')
    command = [
        sys.executable,
        "-m",
        "adapters.cli",
        "serve",
        "--data-dir",
        str(tmp_path),
        "--config",
        str(file),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    [line] = done.stderr.splitlines()
    assert done.returncode == 2 and line.startswith(
        f"chargeward: {file}: fleet.unknown_id_tags: must be one of"
    )


def test_embedders_cannot_build_the_policy_either() -> None:
    with pytest.raises(ValueError, match="ConcurrentTx"):
        FleetPolicy(unknown_id_tags="Unknown")
    with pytest.raises(ValueError, match="ConcurrentTx"):
        IdTag(status="OK")
