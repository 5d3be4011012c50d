"""API tokens and bind safety: hashing, checking, config parsing and the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.api import ApiOptions, InsecureApiOptions, TokenCheck, hash_token, is_loopback, new_token
from adapters.cli import main
from adapters.config import ConfigError, parse_config

tokens = st.text(min_size=1, max_size=64)


@settings(max_examples=50)
@given(tokens, tokens)
def test_a_token_is_accepted_by_its_hash_and_only_by_it(token: str, other: str) -> None:
    check = TokenCheck([hash_token(token)])
    assert check.accepts(token)
    assert check.accepts(other) == (other == token)


def test_hash_format_and_fresh_tokens() -> None:
    stored = hash_token("abc")
    assert stored == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 40
    with pytest.raises(ValueError, match="empty"):
        hash_token("")
    assert not TokenCheck([stored]).accepts("")
    assert not TokenCheck([])


def test_any_of_several_tokens_is_accepted() -> None:
    check = TokenCheck([hash_token("one"), hash_token("two")])
    assert check.accepts("one") and check.accepts("two") and not check.accepts("three")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("csms.example", False), ("", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) == loopback


def test_a_public_bind_needs_tokens() -> None:
    with pytest.raises(InsecureApiOptions, match="without tokens") as caught:
        ApiOptions(host="0.0.0.0")
    assert caught.value.setting == "host"
    assert ApiOptions(host="0.0.0.0", tokens=(hash_token("t"),)).host == "0.0.0.0"
    with pytest.raises(InsecureApiOptions, match="sha256") as caught:
        ApiOptions(tokens=("plain-text-token",))
    assert caught.value.setting == "tokens"
    with pytest.raises(InsecureApiOptions, match=r"0\.\.65535"):
        ApiOptions(port=70000)


def test_api_table_in_the_config_file() -> None:
    stored = hash_token("t")
    config = parse_config({"api": {"host": "0.0.0.0", "port": 8081, "tokens": [stored]}}, "c.toml")
    assert config.api == ApiOptions(host="0.0.0.0", port=8081, tokens=(stored,))
    assert parse_config({}, "c.toml").api is None, "no [api] table: no HTTP API for embedders"
    assert parse_config({"api": {}}, "c.toml").api == ApiOptions()


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ({"host": "0.0.0.0"}, "api.host", "without tokens"),
        ({"tokens": ["secret"]}, "api.tokens", "chargeward token hash"),
        ({"tokens": "sha256:00"}, "api.tokens", "must be list"),
        ({"port": "80"}, "api.port", "must be int"),
        ({"prot": 80}, "api.prot", "unknown key"),
    ],
)
def test_bad_api_tables_name_the_key(table: dict[str, object], key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        parse_config({"api": table}, "c.toml")
    assert (caught.value.source, caught.value.key) == ("c.toml", key)


def test_serve_refuses_a_public_api_without_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--data-dir", str(tmp_path), "--api-host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert "--api-host" in error and "without tokens" in error
    config = tmp_path / "c.toml"
    config.write_text('[api]\nhost = "10.1.2.3"\n')
    assert main(["serve", "--data-dir", str(tmp_path), "--config", str(config)]) == 2
    assert "api.host" in capsys.readouterr().err
    assert not (tmp_path / "events.db").exists(), "nothing started"


def test_token_commands(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["token", "hash", "abc"]) == 0
    assert capsys.readouterr().out.strip() == hash_token("abc")
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    assert main(["token", "hash"]) == 0
    assert capsys.readouterr().out.strip() == hash_token("from-stdin")
    assert main(["token", "new"]) == 0
    lines = capsys.readouterr().out.splitlines()
    token = lines[0].removeprefix("token: ")
    assert lines[1].split()[1] == hash_token(token)
