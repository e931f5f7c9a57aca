"""Operator passwords: scrypt (standard library) with a random salt, the parameters stored with the hash.

A stored hash reads ``$scrypt$ln=15,r=8,p=1$<salt>$<key>`` (base64url, no padding), so the cost can be raised
later without breaking the hashes already stored: each one is checked with the parameters it names.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_SALT_BYTES = 16
_KEY_BYTES = 32
# A tampered or foreign hash must not make one check take minutes or gigabytes.
_MAX_LOG_N = 20
_MAX_R = 32
_MAX_P = 16
_FORMAT = re.compile(
    r"\$scrypt\$ln=(?P<ln>\d{1,2}),r=(?P<r>\d{1,2}),p=(?P<p>\d{1,2})\$(?P<salt>[A-Za-z0-9_-]+)\$(?P<key>[A-Za-z0-9_-]+)"
)


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt's cost: N = 2**log_n, block size r, parallelism p; memory is about 128 * N * r bytes."""

    log_n: int = 15
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        """The memory limit handed to OpenSSL: what the parameters need, plus room."""
        return 256 * (1 << self.log_n) * self.r * self.p


DEFAULT_COST = ScryptCost()
"""32 MiB and about 0.1 s per check on one core."""


def hash_password(password: str, cost: ScryptCost = DEFAULT_COST) -> str:
    """The password's stored form: a new random salt and scrypt's key, with ``cost``."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, cost)
    return f"$scrypt$ln={cost.log_n},r={cost.r},p={cost.p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; constant time; False for a malformed hash."""
    match = _FORMAT.fullmatch(stored)
    if match is None:
        return False
    cost = ScryptCost(int(match["ln"]), int(match["r"]), int(match["p"]))
    if not (1 <= cost.log_n <= _MAX_LOG_N and 1 <= cost.r <= _MAX_R and 1 <= cost.p <= _MAX_P):
        return False
    try:
        salt, key = _unb64(match["salt"]), _unb64(match["key"])
    except (binascii.Error, ValueError):
        return False
    if not 16 <= len(key) <= 64:
        return False
    return hmac.compare_digest(_derive(password, salt, cost, len(key)), key)


def burn(password: str, cost: ScryptCost = DEFAULT_COST) -> None:
    """Spend what a check costs without a hash: a login for an unknown name takes as long as a wrong password."""
    _derive(password, b"\0" * _SALT_BYTES, cost)


def new_password() -> str:
    """A password for a new or reset account: 16 URL-safe characters (96 random bits)."""
    return secrets.token_urlsafe(12)


def _derive(password: str, salt: bytes, cost: ScryptCost, length: int = _KEY_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=1 << cost.log_n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.maxmem,
        dklen=length,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
