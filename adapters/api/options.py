"""Where the operator HTTP API listens, over what (HTTP or HTTPS), which bearer tokens it accepts
with which scope (``adapters.api.scopes``), and how fast each token may go.

The rule that nothing administrative listens beyond loopback unless configured (docs/design.md) is
enforced here, when the options are built: an API bound to anything but loopback without tokens
refuses to exist, so no code path (config file, command line, embedding) can start it open.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from adapters.api.scopes import Scope

DEFAULT_PORT = 8080

# A stored token: "sha256:" and the hex digest of the token (see adapters.api.tokens.hash_token).
_TOKEN_HASH = re.compile(r"sha256:[0-9a-f]{64}")


class InsecureApiOptions(ValueError):
    """The API options are unsafe or malformed; ``setting`` names the option to change."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(reason)
        self.setting = setting
        self.reason = reason


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the API on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


#: The token lists of the options and the scope each gives its tokens.
TOKEN_LISTS = {
    "tokens": Scope.ADMIN,
    "command_tokens": Scope.COMMAND,
    "read_tokens": Scope.READ,
    "metrics_tokens": Scope.METRICS,
}


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """Host and port of the HTTP API (port 0: any free port), the accepted token hashes by scope, the
    per-token rate limit (requests per second, burst), and the certificate and key for HTTPS."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tokens: tuple[str, ...] = ()  # admin
    command_tokens: tuple[str, ...] = ()
    read_tokens: tuple[str, ...] = ()
    metrics_tokens: tuple[str, ...] = ()
    rate_limit: float = 20.0
    rate_burst: int = 100
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InsecureApiOptions("port", f"must be 0..65535, got {self.port!r}")
        for setting in TOKEN_LISTS:
            for token in getattr(self, setting):
                if not isinstance(token, str) or not _TOKEN_HASH.fullmatch(token):
                    raise InsecureApiOptions(
                        setting,
                        f"each token must be stored hashed as 'sha256:<64 hex digits>' "
                        f"(make one with `chargeward token hash`), got {token!r}",
                    )
        if not self.rate_limit > 0:
            raise InsecureApiOptions("rate_limit", f"must be positive, got {self.rate_limit!r}")
        if self.rate_burst < 1:
            raise InsecureApiOptions("rate_burst", f"must be at least 1, got {self.rate_burst!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InsecureApiOptions(
                "tls_key" if self.tls_key is None else "tls_cert", "set tls_cert and tls_key together"
            )
        if not self.scopes() and not is_loopback(self.host):
            raise InsecureApiOptions(
                "host",
                f"refusing to serve the API on {self.host!r} without tokens: bind it to 127.0.0.1 "
                "or add token hashes to [api] tokens",
            )

    def scopes(self) -> dict[str, Scope]:
        """Every configured token hash and its scope (a hash in several lists gets the highest)."""
        found: dict[str, Scope] = {}
        for setting, scope in reversed(TOKEN_LISTS.items()):
            for token in getattr(self, setting):
                found[token] = scope
        return found
