"""Every setting of :class:`Config` set in a file survives ``chargeward serve --config FILE``.

The fields are found by walking the dataclasses (``Config`` and every dataclass it nests), not by a
list kept here: a key someone adds to a dataclass but forgets to read from the file, or that the
command line rebuilds without (as ``serve`` once dropped ``[[modbus.devices]]``), fails this test.
Most values are made from the field's type and default (a number one step away, the other bool,
another enum member); the few that need a shape are in :data:`SAMPLES`, and the few that cannot come
from a file are in :data:`NOT_IN_THE_FILE`, each with the reason.

The same walk checks that every key is in README's configuration section, and that a file builds on
the base ``Config`` an embedder gives ``load_config`` (a table that leaves a key out keeps the base's).
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import MISSING, Field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from actors.ocpp import Policy
from actors.policy import IdTag, StationPolicy
from actors.sites import Site
from actors.upstream.link import LinkSettings
from adapters.cli import SERVE_FLAGS, build_config, make_parser
from adapters.config import Config, parse_config
from adapters.metrics import MetricsOptions
from adapters.modbus_config import DeviceConfig
from adapters.station_gate import StationCredentials
from adapters.station_passwords import hash_password
from adapters.upstream_config import UpstreamOptions

ROOT = Path(__file__).resolve().parents[2]

#: Fields a file cannot set, and why.
NOT_IN_THE_FILE = {
    "data_dir": "the --data-dir flag: the file's [store] url names the store itself",
    "api.tls_cert": "a real certificate file: tests/security/test_api_security.py sets it through serve",
    "api.tls_key": "a real key file: tests/security/test_api_security.py sets it through serve",
    "signing_ca.certificate": "[server] ca_cert, a real file: tests/security/test_certificate_signing.py",
    "signing_ca.key": "[server] ca_key, a real file: tests/security/test_certificate_signing.py",
    "signing_ca.days": "[server] station_cert_days, used with ca_cert: tests/security/ (certificates)",
    "server.ssl_context": "built from [server] tls_cert, tls_key, client_ca (tests/security test them)",
    "fleet.planned_stations": (
        "Config.fleet_policy adds the stations of [sites.<id>] with an optimizer: "
        "tests/integration/test_site_plan_serve.py"
    ),
    "server.security.client_id_field": (
        "needs [server] client_ca, a real file: tests/security/test_client_id_field.py sets it through serve"
    ),
}

#: Where a field's key is not ``[<first part>] <last part>``: field path prefix -> file key prefix.
RENAMES = {
    "store_url": "store.url",
    "server.port": "server.ocpp_port",
    "fleet.default.": "fleet.",
    "fleet.stations": "stations",
    "fleet.vendors": "vendors",
    "fleet.id_tags": "id_tags",
    "server.security.profile": "fleet.security_profile",
    "server.security.max_failures": "fleet.auth_max_failures",
    "server.security.block_seconds": "fleet.auth_block_seconds",
    "server.security.stations": "stations",
}
_HASH = hash_password("a-password-for-the-config-test")

_TOKEN = "sha256:" + "ab" * 32

#: Tables set and checked as one value (a table whose keys only make sense together).
WHOLE_TABLES = {"upstream"}

#: Fields whose value needs a shape: path -> (TOML text, the value expected in the Config).
SAMPLES: dict[str, tuple[str, Any]] = {
    "server.host": ('[server]\nhost = "::1"\n', "::1"),
    "server.subprotocols": ('[server]\nsubprotocols = ["ocpp1.6"]\n', ("ocpp1.6",)),
    "api.host": ('[api]\nhost = "127.0.0.2"\n', "127.0.0.2"),
    "api.tokens": (f'[api]\ntokens = ["{_TOKEN}"]\n', (_TOKEN,)),
    "api.command_tokens": (f'[api]\ncommand_tokens = ["{_TOKEN}"]\n', (_TOKEN,)),
    "api.read_tokens": (f'[api]\nread_tokens = ["{_TOKEN}"]\n', (_TOKEN,)),
    "api.metrics_tokens": (f'[api]\nmetrics_tokens = ["{_TOKEN}"]\n', (_TOKEN,)),
    "store_url": ('[store]\nurl = "memory://"\n', "memory://"),
    "node.name": ('[node]\nname = "node-x"\n', "node-x"),
    "fleet.default.phases": ("[fleet]\nphases = 1\n", 1),
    "fleet.unknown_id_tags": ('[fleet]\nunknown_id_tags = "Blocked"\n', "Blocked"),
    "fleet.default.aliases": ('[fleet.aliases]\n"Celcius" = "Celsius"\n', {"Celcius": "Celsius"}),
    "fleet.stations": (
        '[stations."CP-9"]\nvalidation = "strict"\n',
        {"CP-9": StationPolicy(validation=Policy.STRICT)},
    ),
    "fleet.vendors": (
        '[vendors."Acme"]\nvalidation = "strict"\n',
        {"Acme": StationPolicy(validation=Policy.STRICT)},
    ),
    "fleet.id_tags": (
        '[id_tags."T-1"]\nstatus = "Blocked"\nparent = "P-1"\n',
        {"T-1": IdTag(status="Blocked", parent="P-1")},
    ),
    "server.security.profile": ("[fleet]\nsecurity_profile = 1\n", 1),
    "server.security.stations": (
        f'[stations."CP-9"]\nsecurity_profile = 1\npassword_hash = "{_HASH}"\n',
        {"CP-9": StationCredentials(1, _HASH)},
    ),
    "modbus": (
        '[[modbus.devices]]\nid = "m-1"\ntransport = "tcp"\nhost = "127.0.0.1"\nport = 5020\n'
        'unit = 1\nprofile = "eastron_sdm630"\n',
        ["m-1"],
    ),
    "sites": (
        '[sites.depot]\nmax_current = 32\nstations = ["CP-1"]\n',
        (Site("depot", ("CP-1",), max_current=32.0),),
    ),
    "upstream": (
        '[upstream]\nurl = "ws://csms.example/ocpp"\nreply_timeout = 2\n',
        UpstreamOptions("ws://csms.example/ocpp", LinkSettings(reply_timeout=2.0)),
    ),
}


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(
        cls,
        localns={
            "MetricsOptions": MetricsOptions,
            "DeviceConfig": DeviceConfig,
            "UpstreamOptions": UpstreamOptions,
        },
    )


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass ``hint`` names, alone or as ``X | None``."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    found = [o for o in options if isinstance(o, type) and is_dataclass(o)]
    return found[0] if len(found) == 1 else None


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def leaves(cls: type = Config, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted path, type hint, default) of every field that is not itself a dataclass."""
    hints = _hints(cls)
    for f in fields(cls):  # type: ignore[arg-type]
        path = prefix + f.name
        nested = _dataclass_in(hints[f.name])
        if nested is not None and path not in WHOLE_TABLES:
            yield from leaves(nested, path + ".")
        else:
            yield path, hints[f.name], _default(f)


def _file_key(path: str) -> str:
    for old, new in RENAMES.items():
        if path == old or (old.endswith(".") and path.startswith(old)):
            return new + path[len(old) :]
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _another(hint: Any, default: Any) -> tuple[Any, Any]:
    """(value to write, value expected) for a field of a plain type: differs from the default."""
    options = (
        [o for o in typing.get_args(hint) if o is not type(None)]
        if isinstance(hint, types.UnionType)
        else [hint]
    )
    kind = options[0] if len(options) == 1 else None
    if kind is bool:
        return (not default, not default)
    if kind is int:
        value = (default or 0) + 3
        return value, value
    if kind is float:
        value = (default or 0.0) + 1.5
        return value, value
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        member = next(m for m in kind if m != default)
        return member.value, member
    raise AssertionError(f"no way to make a value of {hint!r}: add a sample to SAMPLES")


def sample(path: str, hint: Any, default: Any) -> tuple[str, Any]:
    """The TOML text that sets ``path`` and the value the Config must then hold."""
    if path in SAMPLES:
        return SAMPLES[path]
    written, expected = _another(hint, default)
    table, _, key = _file_key(path).rpartition(".")
    return f"[{table}]\n{key} = {_toml(written)}\n", expected


def value_at(config: Config, path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = getattr(value, part, None)  # None: an optional table (api, metrics) left out
    return [d.id for d in value] if path == "modbus" else value


def serve_config(tmp_path: Path, text: str, *flags: str) -> Config:
    """What ``chargeward serve --config FILE FLAGS`` would run with (no environment overrides)."""
    file = tmp_path / "chargeward.toml"
    file.write_text(text)
    args = make_parser().parse_args(["serve", "--data-dir", str(tmp_path), "--config", str(file), *flags])
    return build_config(args)


SETTABLE = [(p, h, d) for p, h, d in leaves() if p not in NOT_IN_THE_FILE]


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("CHARGEWARD_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(("path", "hint", "default"), SETTABLE, ids=[p for p, _, _ in SETTABLE])
def test_a_value_set_in_the_file_reaches_serve(tmp_path: Path, path: str, hint: Any, default: Any) -> None:
    text, expected = sample(path, hint, default)
    assert value_at(Config(), path) != expected, "the sample must differ from the default"
    assert value_at(serve_config(tmp_path, text), path) == expected, text


def test_all_values_together_survive_and_flags_change_only_what_they_name(tmp_path: Path) -> None:
    by_table: dict[str, list[str]] = {}
    expected = {}
    for path, hint, default in SETTABLE:
        text, value = sample(path, hint, default)
        header, _, body = text.partition("\n")
        by_table.setdefault(header, []).append(body)
        expected[path] = value
    text = "".join(f"{header}\n{''.join(bodies)}" for header, bodies in by_table.items())
    config = serve_config(tmp_path, text)
    for path in ("fleet.stations", "fleet.vendors"):  # these build on the [fleet] policy in the file
        expected[path] = {k: replace(config.fleet.default, validation=Policy.STRICT) for k in expected[path]}
    assert {p: value_at(config, p) for p in expected} == expected
    flagged = serve_config(tmp_path, text, "--ocpp-port", "7001", "--api-port", "7002")
    assert (flagged.server.port, flagged.api and flagged.api.port) == (7001, 7002)
    untouched = {p: v for p, v in expected.items() if p not in ("server.port", "api.port")}
    assert {p: value_at(flagged, p) for p in untouched} == untouched


def test_every_flag_overrides_its_setting(tmp_path: Path) -> None:
    given = {
        "host": "::1",
        "ocpp_port": "7001",
        "store": "memory://",
        "node": "node-x",
        "api_host": "::1",
        "api_port": "7002",
    }
    assert set(given) == set(SERVE_FLAGS), "a new flag needs a value here"
    config = serve_config(
        tmp_path, "", *[x for n, v in given.items() for x in ("--" + n.replace("_", "-"), v)]
    )
    assert config.server.host == "::1" and config.server.port == 7001 and config.store_url == "memory://"
    assert config.api is not None and (config.api.host, config.api.port) == ("::1", 7002)
    assert config.node is not None and config.node.name == "node-x"


def test_the_exceptions_name_real_fields() -> None:
    paths = {p for p, _, _ in leaves()}
    assert set(NOT_IN_THE_FILE) <= paths
    assert set(SAMPLES) <= paths


def test_every_file_key_is_in_the_readme() -> None:
    """README's configuration section is where an operator looks for a key."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    missing = []
    for path, _, _ in SETTABLE:
        key = _file_key(path).rpartition(".")[2]
        if not re.search(rf"\b{re.escape(key)}\b", section):
            missing.append(f"{path} ({key})")
    assert not missing, f"not documented in README's configuration section: {missing}"


#: Settings a file replaces as a whole rather than builds on, and why.
REPLACED_BY_THE_FILE = {
    "modbus": "a [modbus] table is the site's device list: the file's list is the list",
    "sites": "a [sites] table is the list of managed sites: the file's list is the list",
    "upstream": "an [upstream] table names one upstream CSMS: the file's replaces the base's whole",
}


def _set_at(value: Any, path: list[str], new: Any, cls: type) -> Any:
    """``value`` (a ``cls``, or None for an absent optional table) with ``path`` set to ``new``."""
    current = value if value is not None else cls()
    head, *rest = path
    if not rest:
        return replace(current, **{head: new})
    nested = _dataclass_in(_hints(cls)[head])
    assert nested is not None
    return replace(current, **{head: _set_at(getattr(current, head), rest, new, nested)})


@pytest.mark.parametrize(
    ("path", "hint", "default"),
    [s for s in SETTABLE if s[0] not in REPLACED_BY_THE_FILE],
    ids=[p for p, _, _ in SETTABLE if p not in REPLACED_BY_THE_FILE],
)
def test_a_file_builds_on_the_base_it_is_given(path: str, hint: Any, default: Any) -> None:
    """An embedder's base ``Config`` survives a file whose table leaves the setting out."""
    _, expected = sample(path, hint, default)
    base = _set_at(Config(), path.split("."), expected, Config)
    table = _file_key(path).split(".")[0]
    assert value_at(parse_config({table: {}}, "c.toml", base), path) == expected
