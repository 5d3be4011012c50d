"""Station passwords for HTTP Basic authentication (OCPP security profiles 1 and 2), stored hashed.

A station's password is the one secret an attacker on the network could try to guess, so it is
stored only as a memory-hard scrypt hash (``hashlib.scrypt``, standard library):
``scrypt$<log2 n>$<r>$<p>$<salt hex>$<hash hex>``. The parameters travel with the hash, so they can
be raised later without invalidating stored hashes. Verification compares in constant time.

New passwords are 40 hexadecimal characters (20 random bytes): inside the 16-40 characters that the
OCPP 1.6 security whitepaper allows for ``AuthorizationKey`` and 2.0.1 for ``BasicAuthPassword``, and
plain ASCII that every station firmware can type.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "scrypt"
LOG2_N = 14  # n = 16384, r = 8: 16 MiB of memory per check
R = 8
P = 1
_STORED = re.compile(r"scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([0-9a-f]{32})\$([0-9a-f]{64})")


def new_password() -> str:
    """A fresh random station password (40 hex characters)."""
    return secrets.token_hex(20)


def hash_password(password: str, *, log2_n: int = LOG2_N) -> str:
    """The stored form of ``password``."""
    if not password:
        raise ValueError("a password must not be empty")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, log2_n, R, P)
    return f"{PREFIX}${log2_n}${R}${P}${salt.hex()}${digest.hex()}"


def check_stored(stored: str) -> str:
    """``stored`` if it is a well-formed hash, else ValueError saying what one looks like."""
    if not _STORED.fullmatch(stored):
        raise ValueError(
            "must be a scrypt hash 'scrypt$<log2 n>$<r>$<p>$<32 hex>$<64 hex>' "
            "(make one with `chargeward station password <id>`)"
        )
    return stored


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (constant-time comparison); False for a bad ``stored``."""
    match = _STORED.fullmatch(stored)
    if match is None:
        return False
    log2_n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    salt, expected = bytes.fromhex(match.group(4)), bytes.fromhex(match.group(5))
    return hmac.compare_digest(_scrypt(password, salt, log2_n, r, p), expected)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 1024 * 1024, dklen=32
    )
