"""The ``[upstream]`` part of the configuration file: chargeward as a local controller.

Example::

    [upstream]
    url = "wss://csms.example/ocpp"   # each station's link goes to url + "/" + its id
    reply_timeout = 5                 # s a station waits for the upstream's answer (then: local policy)
    call_timeout = 30                 # s before a forwarded call counts as lost (the link is reopened)
    backoff = 1                       # s before the first reconnect, doubling with jitter ...
    backoff_max = 60                  # ... up to this
    security_profile = 2              # 0 none, 1 Basic over ws://, 2 Basic over wss://, 3 client cert
    ca_file = "/etc/chargeward/upstream-ca.pem"   # verifies a wss:// upstream (default: the system's CAs)
    cert_file = "/etc/chargeward/site.pem"        # profile 3: the client certificate ...
    key_file = "/etc/chargeward/site.key"         # ... and its key

    [upstream.stations."CP-1"]        # the station's own credentials on the upstream
    password = "the AuthorizationKey the upstream gave CP-1"
    security_profile = 1              # this station's, over the [upstream] one

Mistakes are :class:`adapters.config.ConfigError` naming the file, the key and the reason: a URL that
is not ``ws://`` or ``wss://`` with a host, a profile that does not fit the scheme (2 and 3 need
``wss://``, 3 needs ``cert_file`` and ``key_file``), a reply timeout not below the call timeout,
files that cannot be read.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from actors.upstream.link import LinkSettings
from adapters.config import ConfigError, TableReader

PROFILES = (0, 1, 2, 3)


@dataclass(frozen=True, slots=True)
class UpstreamStation:
    """One station's credentials on the upstream."""

    password: str | None = None
    security_profile: int | None = None  # None: [upstream]'s


@dataclass(frozen=True, slots=True)
class UpstreamOptions:
    url: str
    settings: LinkSettings = field(default_factory=LinkSettings)
    security_profile: int = 0
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    stations: Mapping[str, UpstreamStation] = field(default_factory=dict)

    def profile_of(self, station_id: str) -> int:
        own = self.stations.get(station_id)
        if own is not None and own.security_profile is not None:
            return own.security_profile
        return self.security_profile

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client context for a ``wss://`` upstream (None for ``ws://``)."""
        if not self.url.startswith("wss:"):
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _profile(reader: TableReader, default: int | None) -> int | None:
    value: int | None = reader.get("security_profile", int, default)
    if value is not None and value not in PROFILES:
        raise reader.fail("security_profile", f"must be 0, 1, 2 or 3, got {value}")
    return value


def _check_profile(reader: TableReader, profile: int, secure: bool, has_cert: bool) -> None:
    if profile in (2, 3) and not secure:
        raise reader.fail("security_profile", f"profile {profile} needs a wss:// url")
    if profile == 1 and secure:
        raise reader.fail("security_profile", "profile 1 is Basic auth over ws://; over wss:// use profile 2")
    if profile == 3 and not has_cert:
        raise reader.fail("security_profile", "profile 3 needs cert_file and key_file in [upstream]")


def parse_upstream(table: Mapping[str, Any], source: str) -> UpstreamOptions:
    """The ``[upstream]`` table, checked."""
    reader = TableReader(source, table, "upstream")
    url: str = reader.get("url", str, required=True)
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise reader.fail("url", f"must be ws://host/... or wss://host/..., got {url!r}")
    if parts.query or parts.fragment:
        raise reader.fail("url", "the station id is appended to it: no ?query or #fragment")
    defaults = LinkSettings()
    settings = LinkSettings(
        reply_timeout=float(reader.positive("reply_timeout", defaults.reply_timeout)),
        call_timeout=float(reader.positive("call_timeout", defaults.call_timeout)),
        backoff=float(reader.positive("backoff", defaults.backoff)),
        backoff_max=float(reader.positive("backoff_max", defaults.backoff_max)),
    )
    if settings.reply_timeout >= settings.call_timeout:
        raise reader.fail("reply_timeout", f"must be below call_timeout ({settings.call_timeout:g} s)")
    if settings.backoff_max < settings.backoff:
        raise reader.fail("backoff_max", "must be at least backoff")
    files = {name: reader.get(name, str, None) for name in ("ca_file", "cert_file", "key_file")}
    for name, path in files.items():
        if path is not None and not Path(path).is_file():
            raise reader.fail(name, f"cannot read {path}: no such file")
    if (files["cert_file"] is None) != (files["key_file"] is None):
        raise reader.fail(
            "cert_file" if files["cert_file"] is None else "key_file", "set cert_file and key_file together"
        )
    secure = parts.scheme == "wss"
    if not secure and any(files.values()):
        name = next(n for n, p in files.items() if p is not None)
        raise reader.fail(name, "TLS files need a wss:// url")
    has_cert = files["cert_file"] is not None
    profile = _profile(reader, 0)
    assert profile is not None
    _check_profile(reader, profile, secure, has_cert)
    stations_reader = reader.table_of("stations")
    stations: dict[str, UpstreamStation] = {}
    for name in stations_reader.table:
        sub = stations_reader.table_of(name)
        own = UpstreamStation(password=sub.get("password", str, None), security_profile=_profile(sub, None))
        effective = own.security_profile if own.security_profile is not None else profile
        _check_profile(sub, effective, secure, has_cert)
        if effective in (1, 2) and own.password is None:
            raise sub.fail("password", f"is required at security profile {effective}")
        sub.finish()
        stations[name] = own
    reader.finish()
    options = UpstreamOptions(url, settings, profile, stations=stations, **files)
    try:
        options.ssl_context()
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(
            source, "upstream.cert_file" if has_cert else "upstream.ca_file", str(error)
        ) from None
    return options
