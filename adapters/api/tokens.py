"""Bearer tokens for the operator API, stored only as SHA-256 hashes.

Tokens are long random strings (``chargeward token new``), so a plain SHA-256 is enough: there is
nothing to brute-force that a slow password hash would protect. The comparison runs in constant
time and always against every stored hash, so timing tells nothing about which one came close.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

PREFIX = "sha256:"


def hash_token(token: str) -> str:
    """The stored form of ``token``: ``sha256:<hex digest>``."""
    if not token:
        raise ValueError("a token must not be empty")
    return PREFIX + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class TokenCheck:
    """Accepts a presented token when its hash equals one of the configured hashes."""

    def __init__(self, hashes: Iterable[str]) -> None:
        self._hashes = tuple(h.encode() for h in hashes)

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def accepts(self, token: str) -> bool:
        if not token:
            return False
        presented = hash_token(token).encode()
        matched = False
        for stored in self._hashes:
            matched |= hmac.compare_digest(presented, stored)
        return matched
