from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from app.web.auth import DAY_S, TokenClaims, TokenProblem, TokenSigner, sign_customer, verify_customer

KEY = b"0123456789abcdef0123456789abcdef"


def test_token_verifies_only_for_its_conversation() -> None:
    signer = TokenSigner(KEY)
    token = signer.issue("a" * 32)
    assert signer.verify("a" * 32, token)
    assert not signer.verify("b" * 32, token)


def test_non_ascii_token_is_refused_not_an_error() -> None:
    assert not TokenSigner(KEY).verify("a" * 32, "tökén")


def test_customer_signature_round_trip_and_non_ascii_refusal() -> None:
    signature = sign_customer(KEY, "12347")
    assert verify_customer(KEY, "12347", signature.upper())
    assert not verify_customer(KEY, "12348", signature)
    assert not verify_customer(KEY, "12347", "ß")


class Clock:
    """A settable wall clock."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def legacy_token(conversation_id: str, secret: bytes = KEY) -> str:
    """A token as shopchat issued them before they carried a customer and an expiry."""
    digest = hmac.new(secret, b"conversation:" + conversation_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_token_carries_the_customer_it_was_issued_for() -> None:
    clock = Clock()
    signer = TokenSigner(KEY, ttl_s=DAY_S, clock=clock)
    assert signer.check("a" * 32, signer.issue("a" * 32, "12748")) == TokenClaims("12748", clock.now + DAY_S)
    guest = signer.check("a" * 32, signer.issue("a" * 32))
    assert isinstance(guest, TokenClaims)
    assert guest.customer_id is None


def test_token_with_another_customer_put_in_is_invalid() -> None:
    signer = TokenSigner(KEY)
    expires, _, mac = signer.issue("a" * 32).split(".")
    forged = f"{expires}.{base64.urlsafe_b64encode(b'12748').rstrip(b'=').decode()}.{mac}"
    assert signer.check("a" * 32, forged) is TokenProblem.INVALID


def test_token_with_a_later_expiry_put_in_is_invalid() -> None:
    signer = TokenSigner(KEY)
    expires, customer, mac = signer.issue("a" * 32).split(".")
    assert signer.check("a" * 32, f"{int(expires) + 10**6}.{customer}.{mac}") is TokenProblem.INVALID


def test_token_expires_after_its_lifetime() -> None:
    clock = Clock()
    signer = TokenSigner(KEY, ttl_s=30 * DAY_S, clock=clock)
    token = signer.issue("a" * 32)
    clock.now += 30 * DAY_S - 1
    assert signer.verify("a" * 32, token)
    clock.now += 1
    assert signer.check("a" * 32, token) is TokenProblem.EXPIRED
    assert not signer.verify("a" * 32, token)


def test_legacy_token_is_recognised_but_names_no_customer_and_no_expiry() -> None:
    signer = TokenSigner(KEY)
    claims = signer.check("a" * 32, legacy_token("a" * 32))
    assert claims == TokenClaims(customer_id=None, expires_at=None)
    assert isinstance(claims, TokenClaims)
    assert claims.legacy
    assert signer.check("b" * 32, legacy_token("a" * 32)) is TokenProblem.INVALID
    # The plain check says no: a legacy token is only good together with its stored conversation.
    assert not signer.verify("a" * 32, legacy_token("a" * 32))


def test_legacy_token_expires_a_lifetime_after_its_conversation_started() -> None:
    clock = Clock()
    signer = TokenSigner(KEY, ttl_s=30 * DAY_S, clock=clock)
    started = datetime.fromtimestamp(clock.now - 29 * DAY_S, tz=UTC)
    assert not signer.legacy_expired(started)
    assert not signer.legacy_expired(started.replace(tzinfo=None))  # SQLite hands back naive UTC
    clock.now += DAY_S
    assert signer.legacy_expired(started)


@pytest.mark.parametrize("token", ["", ".", "..", "1.2.3.4", "9999999999..ß", "x.y.z", "tökén.a.b"])
def test_malformed_tokens_are_invalid_not_errors(token: str) -> None:
    assert TokenSigner(KEY).check("a" * 32, token) is TokenProblem.INVALID
