"""The websocket handshake decided without I/O: who a connection is for, and which are refused."""

from __future__ import annotations

import pytest

from app.errors import ErrorCode
from app.web.auth import DAY_S, TokenSigner, sign_customer
from app.web.handshake import CLOSE_UNAUTHORIZED, EXPIRED_MESSAGE, Handshake, Refusal, parse_handshake
from app.web.limits import WsConfig
from tests.test_auth import Clock, legacy_token

SECRET = b"0123456789abcdef0123456789abcdef"
SHOP_KEY = b"shop-backend-signing-key"
CONVERSATION = "c" * 32


def config(*, signing: bool = False, demo: bool = False) -> WsConfig:
    return WsConfig(
        allowed_origins=frozenset({"http://127.0.0.1:8000"}),
        customer_signing_key=SHOP_KEY if signing else None,
        max_frame_bytes=65536,
        rate_limit_per_minute=30,
        max_message_chars=2000,
        demo_mode=demo,
    )


def refused(decision: Handshake | Refusal) -> tuple[int, ErrorCode | None]:
    assert isinstance(decision, Refusal), decision
    return decision.close_code, decision.code


def test_resume_cannot_name_another_customer_than_the_token() -> None:
    # The impersonation: a guest's conversation resumed as customer 12748 without a signature.
    signer = TokenSigner(SECRET)
    params = {"conversation_id": CONVERSATION, "token": signer.issue(CONVERSATION), "customer_id": "12748"}
    decision = parse_handshake(None, params, config(signing=True), signer)
    assert refused(decision) == (CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED)


def test_resume_takes_its_customer_from_the_token() -> None:
    signer = TokenSigner(SECRET)
    params = {"conversation_id": CONVERSATION, "token": signer.issue(CONVERSATION, "12347")}
    decision = parse_handshake(None, params, config(signing=True), signer)
    assert decision == Handshake(conversation_id=CONVERSATION, customer_id="12347", last_seq=None)


def test_resume_naming_its_own_customer_is_let_in() -> None:
    signer = TokenSigner(SECRET)
    token = signer.issue(CONVERSATION, "12347")
    params = {"conversation_id": CONVERSATION, "token": token, "customer_id": "12347"}
    decision = parse_handshake(None, params, config(signing=True), signer)
    assert isinstance(decision, Handshake)
    assert decision.customer_id == "12347"


def test_unsigned_customer_id_is_refused_outside_demo_mode() -> None:
    decision = parse_handshake(None, {"customer_id": "12347"}, config(), TokenSigner(SECRET))
    assert refused(decision) == (CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED)
    assert isinstance(decision, Refusal)
    assert "guest" in decision.message


def test_demo_mode_lets_a_new_conversation_name_any_customer() -> None:
    decision = parse_handshake(None, {"customer_id": "12347"}, config(demo=True), TokenSigner(SECRET))
    assert decision == Handshake(conversation_id=None, customer_id="12347", last_seq=None)


def test_signing_key_is_required_even_in_demo_mode() -> None:
    signer = TokenSigner(SECRET)
    unsigned = parse_handshake(None, {"customer_id": "12347"}, config(signing=True, demo=True), signer)
    signed = parse_handshake(
        None,
        {"customer_id": "12347", "customer_sig": sign_customer(SHOP_KEY, "12347")},
        config(signing=True, demo=True),
        signer,
    )
    assert refused(unsigned) == (CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED)
    assert isinstance(signed, Handshake)


def test_guest_needs_neither_key_nor_demo_mode() -> None:
    decision = parse_handshake(None, {}, config(), TokenSigner(SECRET))
    assert decision == Handshake(conversation_id=None, customer_id=None, last_seq=None)


def test_expired_token_is_refused_with_a_message_to_start_anew() -> None:
    clock = Clock()
    signer = TokenSigner(SECRET, ttl_s=30 * DAY_S, clock=clock)
    token = signer.issue(CONVERSATION)
    clock.now += 31 * DAY_S
    decision = parse_handshake(None, {"conversation_id": CONVERSATION, "token": token}, config(), signer)
    assert refused(decision) == (CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED)
    assert isinstance(decision, Refusal)
    assert decision.message == EXPIRED_MESSAGE


def test_legacy_token_is_let_in_for_the_caller_to_check_against_the_store() -> None:
    signer = TokenSigner(SECRET)
    token = legacy_token(CONVERSATION, SECRET)
    decision = parse_handshake(None, {"conversation_id": CONVERSATION, "token": token}, config(), signer)
    assert decision == Handshake(
        conversation_id=CONVERSATION, customer_id=None, last_seq=None, legacy_token=True
    )


@pytest.mark.parametrize("demo", [False, True])
def test_legacy_token_cannot_name_a_customer(demo: bool) -> None:
    signer = TokenSigner(SECRET)
    params = {
        "conversation_id": CONVERSATION,
        "token": legacy_token(CONVERSATION, SECRET),
        "customer_id": "1",
    }
    assert refused(parse_handshake(None, params, config(demo=demo), signer)) == (
        CLOSE_UNAUTHORIZED,
        ErrorCode.UNAUTHORIZED,
    )
