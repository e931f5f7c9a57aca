"""Conversation tokens and customer signatures (HMAC-SHA256 with server-side keys).

A conversation token is ``EXPIRES.CUSTOMER.MAC``: the Unix second it expires, the conversation's customer id
(base64url, empty for a guest) and an HMAC over both and the conversation id. So a resume learns the
conversation's customer from the token the server issued when the conversation was created, never from the
client, and a token stops working ``ttl`` after it was issued (every connection is given a fresh one).

Tokens issued before expiry existed (``legacy``: one HMAC of the conversation id, no dots) still verify;
they name no customer and carry no expiry, so the caller must accept them only for a stored conversation
(whose customer the store fixed) started within the token lifetime — see ``legacy_expired``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

DAY_S = 86_400.0


def sign_customer(key: bytes, customer_id: str) -> str:
    """The signature a shop's backend puts next to a signed-in customer's id: hex HMAC-SHA256."""
    return hmac.new(key, b"customer:" + customer_id.encode(), hashlib.sha256).hexdigest()


def verify_customer(key: bytes, customer_id: str, signature: str) -> bool:
    """Whether ``signature`` was made for ``customer_id`` with ``key``; constant time."""
    # Bytes, not str: compare_digest raises on non-ASCII text, and the signature comes from the client.
    return hmac.compare_digest(sign_customer(key, customer_id).encode(), signature.lower().encode())


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: the conversation's customer and when the token expires.

    ``expires_at`` is None for a legacy token (no customer, no expiry inside: see the module docstring).
    """

    customer_id: str | None
    expires_at: float | None

    @property
    def legacy(self) -> bool:
        """Issued before tokens carried a customer and an expiry."""
        return self.expires_at is None


class TokenProblem(StrEnum):
    """Why a token is refused."""

    INVALID = "invalid"
    EXPIRED = "expired"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks conversation tokens with a server secret; they live ``ttl_s`` from issue."""

    def __init__(
        self, secret: bytes, ttl_s: float = 30 * DAY_S, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the secret key must be at least 16 bytes")
        self._secret = secret
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, conversation_id: str, customer_id: str | None = None) -> str:
        """A fresh token for ``conversation_id`` and its customer, valid for the token lifetime."""
        expires = str(int(self._clock() + self.ttl_s))
        customer = _b64(customer_id.encode()) if customer_id is not None else ""
        return f"{expires}.{customer}.{self._mac(conversation_id, expires, customer)}"

    def check(self, conversation_id: str, token: str) -> TokenClaims | TokenProblem:
        """The token's claims if it was issued for ``conversation_id`` and has not expired; constant time."""
        parts = token.split(".")
        if len(parts) == 1:
            return (
                TokenClaims(None, None) if self._legacy_ok(conversation_id, token) else TokenProblem.INVALID
            )
        if len(parts) != 3:
            return TokenProblem.INVALID
        expires, customer, mac = parts
        # Bytes, not str: compare_digest raises on non-ASCII text, and the token comes from the client.
        expected = self._mac(conversation_id, expires, customer).encode()
        if not hmac.compare_digest(expected, mac.encode("utf-8", "surrogatepass")):
            return TokenProblem.INVALID
        # Only text this server signed is parsed from here on.
        try:
            expires_at = float(int(expires))
            customer_id = _unb64(customer).decode() if customer else None
        except (ValueError, binascii.Error):
            return TokenProblem.INVALID
        if expires_at <= self._clock():
            return TokenProblem.EXPIRED
        return TokenClaims(customer_id, expires_at)

    def verify(self, conversation_id: str, token: str) -> bool:
        """Whether ``token`` is a current, unexpired token for ``conversation_id`` (legacy ones are not)."""
        claims = self.check(conversation_id, token)
        return isinstance(claims, TokenClaims) and not claims.legacy

    def legacy_expired(self, started_at: datetime) -> bool:
        """Whether a legacy token of a conversation stored at ``started_at`` is past the token lifetime.

        A legacy token was issued no earlier than its conversation started, so this bounds its age.
        """
        started = started_at if started_at.tzinfo is not None else started_at.replace(tzinfo=UTC)
        return started.timestamp() + self.ttl_s <= self._clock()

    def _mac(self, conversation_id: str, expires: str, customer: str) -> str:
        text = f"conversation-token:2\n{conversation_id}\n{expires}\n{customer}"
        message = text.encode("utf-8", "surrogatepass")
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def _legacy_ok(self, conversation_id: str, token: str) -> bool:
        digest = hmac.new(self._secret, b"conversation:" + conversation_id.encode(), hashlib.sha256).digest()
        return hmac.compare_digest(_b64(digest).encode(), token.encode("utf-8", "surrogatepass"))
