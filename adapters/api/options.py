"""Where the operator HTTP API listens and which bearer tokens it accepts.

The rule that nothing administrative listens beyond loopback unless configured (docs/design.md) is
enforced here, when the options are built: an API bound to anything but loopback without tokens
refuses to exist, so no code path (config file, command line, embedding) can start it open.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """Host and port of the HTTP API (port 0: any free port), and the accepted token hashes."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tokens: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InsecureApiOptions("port", f"must be 0..65535, got {self.port!r}")
        for token in self.tokens:
            if not isinstance(token, str) or not _TOKEN_HASH.fullmatch(token):
                raise InsecureApiOptions(
                    "tokens",
                    f"each token must be stored hashed as 'sha256:<64 hex digits>' "
                    f"(make one with `chargeward token hash`), got {token!r}",
                )
        if not self.tokens and not is_loopback(self.host):
            raise InsecureApiOptions(
                "host",
                f"refusing to serve the API on {self.host!r} without tokens: bind it to 127.0.0.1 "
                "or add token hashes to [api] tokens",
            )
