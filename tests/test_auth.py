from __future__ import annotations

from app.web.auth import TokenSigner, sign_customer, verify_customer

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
