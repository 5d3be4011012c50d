"""The TOML configuration file: one place for ports, store, policies, id tags.

Every mistake is reported as :class:`ConfigError` naming the file, the key and the reason, and
nothing starts on a bad file. Command-line flags override environment variables
(``CHARGEWARD_<TABLE>_<KEY>``, e.g. ``CHARGEWARD_SERVER_OCPP_PORT=9100``), which override the file,
which overrides defaults.

Example::

    [server]
    host = "127.0.0.1"
    ocpp_port = 9000
    max_frame_bytes = 65536
    ping_interval = 30
    ping_timeout = 15                  # a pong later than this drops the connection
    send_timeout = 10                  # a write to a station blocked this long drops its connection
    subprotocols = ["ocpp2.0.1", "ocpp1.6"]   # offered OCPP versions, the server's preference first
    tls_cert = "/etc/chargeward/server.pem"  # with it the OCPP port serves wss:// (see adapters.tls)
    tls_key = "/etc/chargeward/server.key"
    client_ca = "/etc/chargeward/stations-ca.pem"  # verifies client certificates (security profile 3)
    client_id_field = "CN"             # the certificate field that must be the station id: CN,
                                       # serialNumber, OU, UID (subject) or SAN:DNS, SAN:URI
    ca_cert = "/etc/chargeward/stations-ca.pem"    # signs stations' SignCertificate requests, with ...
    ca_key = "/etc/chargeward/stations-ca.key"     # ... its key (see adapters.certificate_signing)
    station_cert_days = 365                        # validity of a certificate it signs

    [api]                              # the operator HTTP API (chargeward serve always runs it)
    host = "127.0.0.1"                 # beyond loopback only with tokens
    port = 8080
    tokens = ["sha256:<hex>"]          # admin tokens, hashes only: `chargeward token hash`
    command_tokens = []                # may read and send commands
    read_tokens = []                   # may only read (GET routes, /metrics)
    metrics_tokens = []                # may only read /metrics
    rate_limit = 20                    # requests per second per token ...
    rate_burst = 100                   # ... after a burst of this many (more: 429, Retry-After)
    tls_cert = "/etc/chargeward/api.pem"   # HTTPS (with tls_key)
    tls_key = "/etc/chargeward/api.key"

    [metrics]                          # see adapters.metrics
    per_connector = true
    max_vendors = 20
    max_repair_series = 200

    [[modbus.devices]]                 # see adapters.modbus_config
    id = "meter-cp1"
    transport = "tcp"
    host = "192.0.2.10"
    port = 502
    unit = 1
    profile = "eastron_sdm630"
    interval = 1.0
    station = "CP-1"
    connector = 1

    [sites.depot]                      # see adapters.site_config (circuits, connectors)
    max_current = 32
    stations = ["CP-1", "CP-2"]

    [store]
    url = "sqlite:///var/lib/chargeward/events.db"   # default: events.db in --data-dir

    [upstream]                         # a local controller: see adapters.upstream_config
    url = "wss://csms.example/ocpp"

    [node]                             # one of several nodes sharing a postgresql:// store
    name = "node-a"                    # unique among them (serve --node NAME)
    lease_seconds = 10                 # a paused or cut-off node's stations move after this long

    [state]                            # checkpoints of the live state, kept in the store
    checkpoint_every = 10000           # records folded between two checkpoints, at most ...
    checkpoint_interval = 60           # ... and seconds (while there is something new to save)
    finished_transactions = 1000       # finished transactions kept in memory (the index has all)

    [fleet]
    heartbeat_interval = 300
    unknown_stations = "Accepted"      # Accepted | Pending | Rejected
    unknown_id_tags = "Invalid"        # Accepted | Blocked | Expired | Invalid | ConcurrentTx
    max_connector_id = 64              # higher connectorIds get a CALLERROR (one actor per connector)
    outbox_capacity = 32               # commands queued for one station before the API answers 429
    outbox_bytes = 4194304             # bytes of commands queued for one station before 429 too
    mailbox_capacity = 64              # messages queued for one station or connector actor
    validation = "lenient"             # lenient | strict
    call_timeout = 30
    station_intensity = 5              # a station's supervisor: more than 5 restarts ...
    station_period = 60                # ... in 60 s stops that station alone (StationFailed)
    station_backoff = 0.5              # first restart delay (s), doubling ...
    station_backoff_max = 30           # ... up to this
    station_retry_after = 60           # a stopped station is refused (HTTP 503) this long (s), ...
    station_retry_max = 900            # ... doubling on each further failure up to this
    station_shutdown = 5               # seconds a stopped station actor may finish its message
    security_profile = 0               # 0-3, each station's unless it says (see adapters.station_gate)
    auth_max_failures = 10             # refused upgrades from one address in a minute before ...
    auth_block_seconds = 300           # ... that address is refused (429) this long

    [fleet.aliases]                    # extra enum spellings to repair (lenient only)
    "Celsius " = "Celsius"

    [stations."CP-1"]                  # any [fleet] policy key (validation, aliases, call_timeout)
    validation = "strict"
    boot = "Pending"                   # this BootNotification status, whatever the fleet's rule
    voltage = 230                      # smart charging: A <-> W at this station (any [fleet] key too)
    phases = 3                         # phases a schedule period uses when it does not say
    connector_max_a = 32               # a connector's limit where no profile applies (default none)
    reconcile = true                   # re-apply profiles, configuration, local list after each boot
    security_profile = 2               # never accepted below this (no downgrade)
    password_hash = "scrypt$14$8$1$..." # HTTP Basic password: `chargeward station password CP-1`

    [vendors."Chargedot"]
    validation = "lenient"

    [id_tags."04A2B3C4"]
    status = "Accepted"
    expiry = 2027-01-01T00:00:00Z
    parent = "FLEET-1"
"""

from __future__ import annotations

import os
import re
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.ocpp import Policy
from actors.ocpp.versions import DIALECTS
from actors.policy import BootDecision, FleetPolicy, IdTag, StationPolicy, check_id_tag_status
from actors.sites import Optimizer, Site
from adapters.api.options import TOKEN_LISTS, ApiOptions, InsecureApiOptions
from adapters.certificate_signing import CaFileError, SigningCa
from adapters.ocpp_server import ServerOptions
from adapters.station_gate import CLIENT_ID_FIELDS, PROFILES, SecurityOptions, StationCredentials
from adapters.station_passwords import check_stored
from adapters.tls import TlsFileError, server_context

if TYPE_CHECKING:
    from adapters.metrics import MetricsOptions
    from adapters.modbus_config import DeviceConfig
    from adapters.upstream_config import UpstreamOptions


class ConfigError(ValueError):
    """A configuration problem: where it is and what is wrong."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.source = source
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StateOptions:
    """How often the live projection checkpoints its state into the store, and how many finished
    transactions it keeps in memory (``[state]``; the transaction index in the store has them all)."""

    checkpoint_every: int = 10_000
    checkpoint_interval: float = 60.0
    finished_transactions: int = 1000


_NODE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
LEASE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """``[node]``: this process as one of several nodes sharing a PostgreSQL store (``adapters.cluster``)."""

    name: str | None = None  # None: not a node (yet): ``--node NAME`` may name it
    lease_seconds: float = LEASE_SECONDS


def node_options(
    name: str, lease_seconds: float = LEASE_SECONDS, *, source: str = "command line", key: str = "--node"
) -> NodeOptions:
    """Checked ``NodeOptions``; ``ConfigError`` naming ``source`` and ``key`` for a bad name."""
    if not _NODE_NAME.fullmatch(name):
        raise ConfigError(source, key, f"a node name is 1-64 letters, digits and ._-, got {name!r}")
    return NodeOptions(name, lease_seconds)


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path = Path("data")
    store_url: str | None = None  # None: sqlite file in data_dir
    server: ServerOptions = field(default_factory=ServerOptions)
    fleet: FleetPolicy = field(default_factory=FleetPolicy)
    api: ApiOptions | None = None  # None: no HTTP API, the embedding default
    metrics: MetricsOptions | None = None  # None: the defaults (adapters.metrics.MetricsOptions)
    modbus: tuple[DeviceConfig, ...] = ()  # [[modbus.devices]]: meters and EVSE controllers to poll
    sites: tuple[Site, ...] = ()  # [sites.<id>]: sites under load management (adapters.site_config)
    state: StateOptions = field(default_factory=StateOptions)
    signing_ca: SigningCa | None = None  # [server] ca_cert, ca_key: signs SignCertificate requests
    node: NodeOptions | None = None  # [node]: one of several nodes sharing a postgresql:// store
    upstream: UpstreamOptions | None = None  # [upstream]: a local controller forwarding to a CSMS

    @property
    def resolved_store_url(self) -> str:
        if self.store_url is not None:
            return self.store_url
        return f"sqlite:///{(self.data_dir / 'events.db').resolve()}"

    @property
    def fleet_policy(self) -> FleetPolicy:
        """The fleet policy the stations run under: ``fleet`` with the stations of every site whose
        optimizer is on added to ``planned_stations`` (a 2.0.1 EV's charging needs there are answered
        Processing: the site's schedule follows). Serve, an embedder's ``open_csms`` and
        ``replay --rerun`` all take it from here, whatever built the configuration."""
        planned = {s for site in self.sites if site.planning.mode is not Optimizer.OFF for s in site.stations}
        if planned <= self.fleet.planned_stations:
            return self.fleet
        return replace(self.fleet, planned_stations=self.fleet.planned_stations | planned)


class TableReader:
    """Typed access to one table of the file, remembering the dotted key for error messages.

    Every table of the configuration (here and in ``adapters.modbus_config``) is read through it, so a
    value of the wrong type is reported the same way everywhere.
    """

    def __init__(self, source: str, table: Mapping[str, Any], prefix: str) -> None:
        self.source = source
        self.table = table
        self.prefix = prefix
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, reason: str) -> ConfigError:
        return ConfigError(self.source, self.key(name), reason)

    def get(
        self, name: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False
    ) -> Any:
        self.seen.add(name)
        if name not in self.table:
            if required:
                raise self.fail(name, "is required")
            return default
        value = self.table[name]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(name, f"must be {names}, got {value!r}")
        return value

    def positive(self, name: str, default: float) -> Any:
        value = self.get(name, (int, float), default)
        if value <= 0:
            raise self.fail(name, f"must be positive, got {value!r}")
        return value

    def choice(self, name: str, enum: Any, default: Any) -> Any:
        value = self.get(name, str, None)
        if value is None:
            return default
        try:
            return enum(value)
        except ValueError:
            raise self.fail(name, f"must be one of {[e.value for e in enum]}, got {value!r}") from None

    def table_of(self, name: str) -> TableReader:
        value = self.get(name, dict, {})
        return TableReader(self.source, value, self.key(name))

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "unknown key (check the spelling)")


def _station_policy(reader: TableReader, base: StationPolicy) -> StationPolicy:
    aliases = reader.table_of("aliases")
    alias_map = {k: aliases.get(k, str, None) for k in aliases.table}
    policy = StationPolicy(
        validation=reader.choice("validation", Policy, base.validation),
        aliases={**base.aliases, **alias_map},
        call_timeout=float(reader.positive("call_timeout", base.call_timeout)),
        boot=reader.choice("boot", BootDecision, base.boot),
        voltage=float(reader.positive("voltage", base.voltage)),
        phases=reader.get("phases", int, base.phases),
        connector_max_a=reader.get("connector_max_a", (int, float), base.connector_max_a),
        reconcile=reader.get("reconcile", bool, base.reconcile),
    )
    if policy.phases not in (1, 2, 3):
        raise reader.fail("phases", f"must be 1, 2 or 3, got {policy.phases}")
    if policy.connector_max_a is not None:
        if policy.connector_max_a <= 0:
            raise reader.fail("connector_max_a", f"must be positive, got {policy.connector_max_a}")
        policy = replace(policy, connector_max_a=float(policy.connector_max_a))
    return policy


def _station_policies(
    reader: TableReader, default: StationPolicy, credentials: dict[str, StationCredentials] | None = None
) -> dict[str, StationPolicy]:
    """One policy per sub-table (``[stations.<id>]`` or ``[vendors.<name>]``), each over ``default``;
    with ``credentials``, each station's security keys go there."""
    policies = {}
    for name in reader.table:
        sub = reader.table_of(name)
        policies[name] = _station_policy(sub, default)
        if credentials is not None:
            own = StationCredentials(_profile(sub, None), _password_hash(sub))
            if own != StationCredentials():
                credentials[name] = own
        sub.finish()
    return policies


def _profile(reader: TableReader, default: int | None) -> int | None:
    profile: int | None = reader.get("security_profile", int, default)
    if profile is not None and profile not in PROFILES:
        raise reader.fail("security_profile", f"must be 0, 1, 2 or 3, got {profile}")
    return profile


def _password_hash(reader: TableReader) -> str | None:
    stored: str | None = reader.get("password_hash", str, None)
    if stored is not None:
        try:
            check_stored(stored)
        except ValueError as error:
            raise reader.fail("password_hash", str(error)) from None
    return stored


def _tls(server: TableReader, base: ServerOptions) -> Any:
    """The ``[server]`` TLS keys as an ``ssl.SSLContext`` (or the base's); None without ``tls_cert``."""
    cert, key, ca = (server.get(name, str, None) for name in ("tls_cert", "tls_key", "client_ca"))
    if cert is None:
        for name, value in (("tls_key", key), ("client_ca", ca)):
            if value is not None:
                raise server.fail(name, "needs tls_cert too")
        return base.ssl_context
    if key is None:
        raise server.fail("tls_key", "is required with tls_cert")
    try:
        return server_context(Path(cert), Path(key), Path(ca) if ca is not None else None)
    except TlsFileError as error:
        raise server.fail(error.setting, error.reason) from None


def _client_id_field(server: TableReader, default: str) -> str:
    """``[server] client_id_field``: one of :data:`adapters.station_gate.CLIENT_ID_FIELDS`, with client_ca."""
    value: str | None = server.get("client_id_field", str, None)
    if value is None:
        return default
    if value not in CLIENT_ID_FIELDS:
        raise server.fail("client_id_field", f"must be one of {', '.join(CLIENT_ID_FIELDS)}, got {value!r}")
    if server.get("client_ca", str, None) is None:
        raise server.fail("client_id_field", "needs client_ca too (it names a field of client certificates)")
    return value


def _signing_ca(server: TableReader, base: SigningCa | None) -> SigningCa | None:
    """The CA of ``[server] ca_cert`` and ``ca_key`` (or the base's)."""
    cert, key = server.get("ca_cert", str, None), server.get("ca_key", str, None)
    days = server.get("station_cert_days", int, base.days if base is not None else 365)
    if days < 1:
        raise server.fail("station_cert_days", f"must be at least 1, got {days}")
    if cert is None and key is None:
        return base
    if cert is None or key is None:
        raise server.fail("ca_cert" if cert is None else "ca_key", "set ca_cert and ca_key together")
    try:
        return SigningCa.load(Path(cert), Path(key), days)
    except CaFileError as error:
        raise server.fail(error.setting, error.reason) from None


def _security(
    fleet: TableReader,
    base: SecurityOptions,
    stations: Mapping[str, StationCredentials],
    server: ServerOptions,
    source: str,
) -> SecurityOptions:
    """The fleet's security rules, checked against what the server can offer."""
    profile = _profile(fleet, base.profile)
    assert profile is not None
    security = SecurityOptions(
        profile=profile,
        stations=stations,
        max_failures=_at_least_one(fleet, "auth_max_failures", base.max_failures),
        block_seconds=float(fleet.positive("auth_block_seconds", base.block_seconds)),
    )
    where = [("fleet.security_profile", profile)] + [
        (f"stations.{name}.security_profile", own.profile)
        for name, own in stations.items()
        if own.profile is not None
    ]
    for key, needed in where:
        if needed >= 2 and server.ssl_context is None:
            raise ConfigError(source, key, f"profile {needed} needs TLS: set [server] tls_cert and tls_key")
        if needed == 3 and server.ssl_context.verify_mode == ssl.CERT_NONE:  # type: ignore[union-attr]
            raise ConfigError(source, key, "profile 3 needs client certificates: set [server] client_ca")
    for name, own in stations.items():
        if own.profile in (1, 2) and own.password_hash is None:
            raise ConfigError(
                source,
                f"stations.{name}.password_hash",
                f"is required at security profile {own.profile} (`chargeward station password {name}`)",
            )
    return security


def _station_supervision(fleet: TableReader, base: FleetPolicy) -> dict[str, Any]:
    """The ``station_*`` keys of ``[fleet]``: a station's supervisor and its refusal after failing."""
    intensity = fleet.get("station_intensity", int, base.station_intensity)
    if intensity < 0:
        raise fleet.fail("station_intensity", f"must be 0 or more, got {intensity}")
    out: dict[str, Any] = {"station_intensity": intensity}
    for name in (
        "station_period",
        "station_backoff",
        "station_backoff_max",
        "station_retry_after",
        "station_retry_max",
        "station_shutdown",
    ):
        out[name] = float(fleet.positive(name, getattr(base, name)))
    if out["station_backoff_max"] < out["station_backoff"]:
        raise fleet.fail("station_backoff_max", "must be at least station_backoff")
    if out["station_retry_max"] < out["station_retry_after"]:
        raise fleet.fail("station_retry_max", "must be at least station_retry_after")
    return out


def _id_tag_status(reader: TableReader, name: str, default: str) -> str:
    status: str = reader.get(name, str, default)
    try:
        check_id_tag_status(status)
    except ValueError as error:
        raise reader.fail(name, str(error)) from None
    return status


def _id_tag(reader: TableReader) -> IdTag:
    expiry = reader.get("expiry", datetime, None)
    if expiry is not None and expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    status = _id_tag_status(reader, "status", "Accepted")
    tag = IdTag(status=status, expiry=expiry, parent=reader.get("parent", str, None))
    reader.finish()
    return tag


def _api_options(root: TableReader, base: ApiOptions | None) -> ApiOptions | None:
    if "api" not in root.table:
        root.seen.add("api")
        return base
    reader = root.table_of("api")
    default = base or ApiOptions()
    lists = {name: tuple(reader.get(name, list, list(getattr(default, name)))) for name in TOKEN_LISTS}
    cert, key = reader.get("tls_cert", str, default.tls_cert), reader.get("tls_key", str, default.tls_key)
    try:
        api = ApiOptions(
            host=reader.get("host", str, default.host),
            port=reader.get("port", int, default.port),
            rate_limit=float(reader.get("rate_limit", (int, float), default.rate_limit)),
            rate_burst=reader.get("rate_burst", int, default.rate_burst),
            tls_cert=cert,
            tls_key=key,
            **lists,
        )
        if cert is not None and key is not None:
            server_context(Path(cert), Path(key))  # a file that cannot serve HTTPS stops the start here
    except InsecureApiOptions as error:
        raise reader.fail(error.setting, error.reason) from None
    except TlsFileError as error:
        raise reader.fail(error.setting, error.reason) from None
    reader.finish()
    return api


def _node_options(root: TableReader, base: NodeOptions | None) -> NodeOptions | None:
    reader = root.table_of("node")
    name = reader.get("name", str, base.name if base else None)
    lease = reader.positive("lease_seconds", base.lease_seconds if base else LEASE_SECONDS)
    reader.finish()
    if name is None:
        # No name, no node (the flag --node may name it); a lease period alone waits for one.
        keep = base is not None or "lease_seconds" in reader.table
        return NodeOptions(None, float(lease)) if keep else None
    return node_options(name, float(lease), source=reader.source, key=reader.key("name"))


def _modbus_devices(
    document: Mapping[str, Any], root: TableReader, base: tuple[DeviceConfig, ...]
) -> tuple[DeviceConfig, ...]:
    root.seen.add("modbus")
    if "modbus" not in document:
        return base
    # Imported here: adapters.modbus_config raises this module's ConfigError, so it imports it first.
    from adapters.modbus_config import parse_modbus

    return tuple(parse_modbus(document, root.source))


def _sites(
    document: Mapping[str, Any], root: TableReader, base: tuple[Site, ...], devices: tuple[DeviceConfig, ...]
) -> tuple[Site, ...]:
    root.seen.add("sites")
    if "sites" not in document:
        return base
    # Imported here: adapters.site_config raises this module's ConfigError, so it imports it first.
    from adapters.site_config import check_devices, parse_sites

    sites = parse_sites(document, root.source)
    check_devices(sites, devices, root.source)
    return sites


def _upstream(root: TableReader, base: UpstreamOptions | None) -> UpstreamOptions | None:
    root.seen.add("upstream")
    if "upstream" not in root.table:
        return base
    table = root.get("upstream", dict)
    # Imported here: adapters.upstream_config raises this module's ConfigError, so it imports it first.
    from adapters.upstream_config import parse_upstream

    return parse_upstream(table, root.source)


def _metrics_options(root: TableReader, base: MetricsOptions | None) -> MetricsOptions | None:
    if "metrics" not in root.table:
        root.seen.add("metrics")
        return base
    # Imported here: adapters.metrics raises this module's ConfigError, so it imports it first.
    from adapters.metrics import parse_metrics_options

    return parse_metrics_options(root.table_of("metrics").table, root.source, base)


def _at_least_one(reader: TableReader, name: str, default: int) -> int:
    value: int = reader.get(name, int, default)
    if value < 1:
        raise reader.fail(name, f"must be at least 1, got {value}")
    return value


def _subprotocols(reader: TableReader, default: tuple[str, ...]) -> tuple[str, ...]:
    """``[server] subprotocols``: OCPP subprotocols to accept, most preferred first."""
    value = reader.get("subprotocols", list, None)
    if value is None:
        return default
    known = list(DIALECTS)
    if not value:
        raise reader.fail("subprotocols", f"must name at least one of {known}")
    for name in value:
        if name not in DIALECTS:
            raise reader.fail(
                "subprotocols", f"{name!r} is not an OCPP subprotocol this server speaks {known}"
            )
    if len(set(value)) != len(value):
        raise reader.fail("subprotocols", f"names a subprotocol twice: {value!r}")
    return tuple(value)


def parse_config(document: Mapping[str, Any], source: str, base: Config | None = None) -> Config:
    """Build a :class:`Config` from a parsed TOML document."""
    base = base or Config()
    root = TableReader(source, document, "")
    server = root.table_of("server")
    options = ServerOptions(
        host=server.get("host", str, base.server.host),
        port=server.get("ocpp_port", int, base.server.port),
        max_frame_bytes=int(server.positive("max_frame_bytes", base.server.max_frame_bytes)),
        ping_interval=float(server.positive("ping_interval", base.server.ping_interval)),
        ping_timeout=float(server.positive("ping_timeout", base.server.ping_timeout)),
        send_timeout=float(server.positive("send_timeout", base.server.send_timeout)),
        subprotocols=_subprotocols(server, base.server.subprotocols),
        ssl_context=_tls(server, base.server),
    )
    signing_ca = _signing_ca(server, base.signing_ca)
    client_id_field = _client_id_field(server, base.server.security.client_id_field)
    server.finish()
    api = _api_options(root, base.api)
    metrics = _metrics_options(root, base.metrics)
    modbus = _modbus_devices(document, root, base.modbus)
    sites = _sites(document, root, base.sites, modbus)
    store = root.table_of("store")
    store_url = store.get("url", str, base.store_url)
    store.finish()
    node = _node_options(root, base.node)
    upstream = _upstream(root, base.upstream)
    state_table = root.table_of("state")
    state = StateOptions(
        checkpoint_every=_at_least_one(state_table, "checkpoint_every", base.state.checkpoint_every),
        checkpoint_interval=float(
            state_table.positive("checkpoint_interval", base.state.checkpoint_interval)
        ),
        finished_transactions=_at_least_one(
            state_table, "finished_transactions", base.state.finished_transactions
        ),
    )
    state_table.finish()

    fleet = root.table_of("fleet")
    default = _station_policy(fleet, base.fleet.default)
    heartbeat = fleet.positive("heartbeat_interval", base.fleet.heartbeat_interval)
    if not isinstance(heartbeat, int):
        raise fleet.fail("heartbeat_interval", f"must be a whole number of seconds, got {heartbeat!r}")
    unknown_stations = fleet.choice("unknown_stations", BootDecision, base.fleet.unknown_stations)
    unknown_tags = _id_tag_status(fleet, "unknown_id_tags", base.fleet.unknown_id_tags)
    max_connector_id = _at_least_one(fleet, "max_connector_id", base.fleet.max_connector_id)
    outbox_capacity = _at_least_one(fleet, "outbox_capacity", base.fleet.outbox_capacity)
    outbox_bytes = _at_least_one(fleet, "outbox_bytes", base.fleet.outbox_bytes)
    mailbox_capacity = _at_least_one(fleet, "mailbox_capacity", base.fleet.mailbox_capacity)
    supervision = _station_supervision(fleet, base.fleet)

    # The file's stations, vendors and id tags are added to the base's (an embedder's own list).
    credentials = dict(base.server.security.stations)
    stations = {**base.fleet.stations, **_station_policies(root.table_of("stations"), default, credentials)}
    security = _security(fleet, base.server.security, credentials, options, source)
    security = replace(security, client_id_field=client_id_field)
    options = replace(options, security=security)
    fleet.finish()
    vendors = {**base.fleet.vendors, **_station_policies(root.table_of("vendors"), default)}
    tags_reader = root.table_of("id_tags")
    id_tags = {**base.fleet.id_tags, **{tag: _id_tag(tags_reader.table_of(tag)) for tag in tags_reader.table}}
    root.finish()
    return Config(
        data_dir=base.data_dir,
        store_url=store_url,
        server=options,
        api=api,
        metrics=metrics,
        modbus=modbus,
        sites=sites,
        state=state,
        signing_ca=signing_ca,
        node=node,
        upstream=upstream,
        fleet=FleetPolicy(
            heartbeat_interval=heartbeat,
            unknown_stations=unknown_stations,
            default=default,
            stations=stations,
            vendors=vendors,
            id_tags=id_tags,
            unknown_id_tags=unknown_tags,
            max_connector_id=max_connector_id,
            outbox_capacity=outbox_capacity,
            outbox_bytes=outbox_bytes,
            mailbox_capacity=mailbox_capacity,
            **supervision,
        ),
    )


ENV_PREFIX = "CHARGEWARD_"
ENV_TABLES = ("server", "api", "store", "state", "fleet", "metrics", "node", "upstream")


def _environment(environ: Mapping[str, str]) -> dict[tuple[str, str], tuple[Any, str]]:
    """``CHARGEWARD_<TABLE>_<KEY>`` variables: (table, key) -> (value, variable name).

    The value is read as a TOML value when it is one (``9000``, ``true``, ``["sha256:..."]``) and
    as a plain string otherwise (``127.0.0.1``, ``lenient``).
    """
    found: dict[tuple[str, str], tuple[Any, str]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        table = next((t for t in ENV_TABLES if rest.startswith(t + "_")), None)
        if table is None:
            raise ConfigError(
                "environment",
                name,
                f"not a setting: use {ENV_PREFIX}<TABLE>_<KEY> with TABLE one of {list(ENV_TABLES)}",
            )
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        found[(table, rest[len(table) + 1 :])] = (value, name)
    return found


def load_config(
    path: str | os.PathLike[str] | None,
    base: Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The configuration from a TOML file (if any) with ``environ``'s overrides on top.

    Raises :class:`ConfigError` naming the file (or the environment variable), the key and the reason.
    """
    source = os.fspath(path) if path is not None else "defaults"
    document: dict[str, Any] = {}
    if path is not None:
        try:
            with open(source, "rb") as f:
                document = tomllib.load(f)
        except OSError as error:
            raise ConfigError(source, "-", f"cannot read: {error.strerror}") from error
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(source, "-", f"not valid TOML: {error}") from error
    overrides = _environment(environ or {})
    for (table, key), (value, _name) in overrides.items():
        section = document.setdefault(table, {})
        if not isinstance(section, dict):
            raise ConfigError(source, table, "must be a table")
        section[key] = value
    try:
        return parse_config(document, source, base)
    except ConfigError as error:
        variable = next((name for (t, k), (_v, name) in overrides.items() if error.key == f"{t}.{k}"), None)
        if variable is None:
            raise
        raise ConfigError(f"environment {variable}", error.key, error.reason) from None
