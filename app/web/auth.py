"""Conversation tokens: an HMAC of the conversation id, so only its holder can read or resume it."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign_customer(key: bytes, customer_id: str) -> str:
    """The signature a shop's backend puts next to a signed-in customer's id: hex HMAC-SHA256."""
    return hmac.new(key, b"customer:" + customer_id.encode(), hashlib.sha256).hexdigest()


def verify_customer(key: bytes, customer_id: str, signature: str) -> bool:
    """Whether ``signature`` was made for ``customer_id`` with ``key``; constant time."""
    # Bytes, not str: compare_digest raises on non-ASCII text, and the signature comes from the client.
    return hmac.compare_digest(sign_customer(key, customer_id).encode(), signature.lower().encode())


class TokenSigner:
    """Issues and checks conversation tokens with a server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the secret key must be at least 16 bytes")
        self._secret = secret

    def issue(self, conversation_id: str) -> str:
        """The token for ``conversation_id``."""
        digest = hmac.new(self._secret, b"conversation:" + conversation_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def verify(self, conversation_id: str, token: str) -> bool:
        """Whether ``token`` was issued for ``conversation_id``; constant time."""
        return hmac.compare_digest(self.issue(conversation_id).encode(), token.encode())
