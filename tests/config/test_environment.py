"""Environment overrides (CHARGEWARD_<TABLE>_<KEY>) beat the file, flags beat both; errors name them."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.ocpp import Policy
from adapters.cli import build_config
from adapters.config import ConfigError, load_config


def test_variables_override_the_file_and_parse_as_toml_values(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('[server]\nocpp_port = 9000\nhost = "127.0.0.1"\n[fleet]\nheartbeat_interval = 300\n')
    config = load_config(
        file,
        environ={
            "CHARGEWARD_SERVER_OCPP_PORT": "9100",
            "CHARGEWARD_SERVER_HOST": "::1",
            "CHARGEWARD_FLEET_VALIDATION": "strict",
            "CHARGEWARD_METRICS_PER_CONNECTOR": "false",
            "UNRELATED": "x",
        },
    )
    assert (config.server.port, config.server.host) == (9100, "::1")
    assert config.fleet.heartbeat_interval == 300, "untouched keys keep the file's value"
    assert config.fleet.default.validation is Policy.STRICT
    assert config.metrics is not None and config.metrics.per_connector is False


def test_without_a_file_the_environment_still_applies() -> None:
    assert load_config(None, environ={"CHARGEWARD_SERVER_OCPP_PORT": "7000"}).server.port == 7000


@pytest.mark.parametrize(
    ("environ", "where", "key"),
    [
        (
            {"CHARGEWARD_SERVER_OCPP_PORT": "nine"},
            "environment CHARGEWARD_SERVER_OCPP_PORT",
            "server.ocpp_port",
        ),
        ({"CHARGEWARD_FLEET_HEARTBEAT": "5"}, "environment CHARGEWARD_FLEET_HEARTBEAT", "fleet.heartbeat"),
        ({"CHARGEWARD_NOPE_X": "1"}, "environment", "CHARGEWARD_NOPE_X"),
    ],
)
def test_a_bad_variable_is_named(environ: dict[str, str], where: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, environ=environ)
    assert (error.value.source, error.value.key) == (where, key)


def test_flags_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.setenv("CHARGEWARD_SERVER_OCPP_PORT", "9100")
    args = argparse.Namespace(
        data_dir=tmp_path,
        config=None,
        host=None,
        ocpp_port=9200,
        store=None,
        node=None,
        api_host=None,
        api_port=None,
    )
    assert build_config(args).server.port == 9200
    args.ocpp_port = None
    assert build_config(args).server.port == 9100
