"""``[upstream]``: a local controller's upstream parses into options; every mistake is one
``file: key: reason`` and nothing starts."""

from __future__ import annotations

import tomllib

import pytest

from adapters.config import ConfigError, parse_config


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_config(tomllib.loads(text), "site.toml")


def test_a_full_upstream_table_parses() -> None:
    config = parse(
        """
        [upstream]
        url = "ws://csms.example:9000/ocpp"
        reply_timeout = 2
        call_timeout = 20
        backoff = 0.5
        backoff_max = 30
        security_profile = 1
        [upstream.stations."CP-1"]
        password = "secret-1"
        [upstream.stations."CP-2"]
        password = "secret-2"
        """
    )
    upstream = config.upstream
    assert upstream is not None
    assert upstream.url == "ws://csms.example:9000/ocpp"
    assert (upstream.settings.reply_timeout, upstream.settings.call_timeout) == (2.0, 20.0)
    assert (upstream.settings.backoff, upstream.settings.backoff_max) == (0.5, 30.0)
    assert upstream.profile_of("CP-1") == 1 and upstream.stations["CP-2"].password == "secret-2"


def test_no_upstream_table_means_no_local_controller() -> None:
    assert parse("[fleet]\nheartbeat_interval = 60\n").upstream is None


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ('url = "http://csms.example/ocpp"', "upstream.url", "must be ws://"),
        ('url = "ws:///ocpp"', "upstream.url", "must be ws://"),
        ('url = "ws://h/ocpp?x=1"', "upstream.url", "no ?query"),
        ("reply_timeout = 1", "upstream.url", "is required"),
        ('url = "ws://h/o"\nreply_timeout = 30', "upstream.reply_timeout", "below call_timeout"),
        ('url = "ws://h/o"\nreply_timeout = -1', "upstream.reply_timeout", "must be positive"),
        ('url = "ws://h/o"\nbackoff = 5\nbackoff_max = 1', "upstream.backoff_max", "at least backoff"),
        ('url = "ws://h/o"\nsecurity_profile = 2', "upstream.security_profile", "needs a wss:// url"),
        ('url = "wss://h/o"\nsecurity_profile = 1', "upstream.security_profile", "over wss:// use profile 2"),
        ('url = "wss://h/o"\nsecurity_profile = 3', "upstream.security_profile", "needs cert_file"),
        ('url = "ws://h/o"\nsecurity_profile = 7', "upstream.security_profile", "must be 0, 1, 2 or 3"),
        ('url = "ws://h/o"\nca_file = "/nonexistent.pem"', "upstream.ca_file", "no such file"),
        ('url = "ws://h/o"\nretries = 3', "upstream.retries", "unknown key"),
        (
            'url = "ws://h/o"\nsecurity_profile = 1\n[upstream.stations."CP-1"]\nsecurity_profile = 1',
            "upstream.stations.CP-1.password",
            "is required at security profile 1",
        ),
    ],
)
def test_mistakes_name_the_file_the_key_and_the_reason(table: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(f"[upstream]\n{table}\n")
    assert caught.value.source == "site.toml"
    assert caught.value.key == key
    assert reason in caught.value.reason
