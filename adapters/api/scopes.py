"""What a bearer token may do (its scope) and how often (a token bucket per token).

Scopes nest: ``read`` (GET the stations, transactions, events, /metrics) < ``command`` (also send
commands and change charging profiles) < ``admin`` (also rotate station passwords). A ``metrics``
token may read /metrics and nothing else, so a Prometheus server's token cannot read the fleet.
``[api] tokens`` are admin tokens (what every token was before scopes existed); ``read_tokens``,
``command_tokens`` and ``metrics_tokens`` hold the others.

Each token has its own bucket of ``rate_burst`` requests refilled at ``rate_limit`` per second; an
empty bucket answers 429 with Retry-After, and other tokens are not affected.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from collections.abc import Mapping

from adapters.api.tokens import PREFIX


class Scope(enum.IntEnum):
    """What a token may do; a higher scope may do everything a lower one may (but ``metrics``)."""

    METRICS = 0
    READ = 1
    COMMAND = 2
    ADMIN = 3

    def allows(self, needed: Scope) -> bool:
        if needed is Scope.METRICS:
            return True
        return self is not Scope.METRICS and self >= needed


class ScopedTokens:
    """Token hash -> scope; a presented token is looked up by its SHA-256 in constant time."""

    def __init__(self, scopes: Mapping[str, Scope]) -> None:
        self._scopes = {stored.encode(): scope for stored, scope in scopes.items()}

    def __bool__(self) -> bool:
        return bool(self._scopes)

    def scope_of(self, token: str) -> tuple[Scope, bytes] | None:
        """The token's scope and stored hash, or None for an unknown token."""
        if not token:
            return None
        presented = (PREFIX + hashlib.sha256(token.encode()).hexdigest()).encode()
        found: tuple[Scope, bytes] | None = None
        for stored, scope in self._scopes.items():  # every hash compared: timing says nothing
            if hmac.compare_digest(presented, stored):
                found = (scope, stored)
        return found


class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[bytes, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: bytes, now: float) -> float | None:
        """None when the request may go; else the seconds until it could."""
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        return None


def retry_after(seconds: float) -> str:
    """The Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
