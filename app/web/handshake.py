"""What a websocket's opening request asks for, decided without I/O: go ahead, or refuse and how."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from app.errors import ErrorCode
from app.web.auth import TokenClaims, TokenProblem, TokenSigner, verify_customer
from app.web.limits import WsConfig

CLOSE_POLICY = 1008
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_MANY = 4429
CLOSE_UNAVAILABLE = 1011

_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_CONVERSATION_ID = re.compile(r"^[0-9a-f]{32}$")
_DIGITS = re.compile(r"[0-9]{1,10}")
# The largest seq the events table holds (a 32-bit integer column on PostgreSQL).
MAX_SEQ = 2**31 - 1


EXPIRED_MESSAGE = "This conversation has expired. Start a new conversation."


@dataclass(frozen=True, slots=True)
class Handshake:
    """A connection to let in: a new conversation (no id) or a resumed one with a verified token.

    ``customer_id`` is the new conversation's (checked) customer, or on a resume the one its token names.
    ``legacy_token``: a resume with a token from before tokens expired; the caller lets it in only for a
    stored conversation started within the token lifetime (``TokenSigner.legacy_expired``).
    """

    conversation_id: str | None
    customer_id: str | None
    last_seq: int | None
    legacy_token: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """A connection to turn away; ``before_accept`` refusals get HTTP 403 and no error frame."""

    close_code: int
    code: ErrorCode | None = None
    message: str = ""
    before_accept: bool = False
    retry_after_s: float | None = None


def parse_handshake(
    origin: str | None, params: Mapping[str, str], config: WsConfig, signer: TokenSigner
) -> Handshake | Refusal:
    """Check the Origin header and the query parameters (see docs/protocol.md, "Connecting")."""
    # Browsers always send Origin; refusing foreign ones before the handshake stops cross-site hijacking.
    if origin is not None and origin.rstrip("/") not in config.allowed_origins:
        return Refusal(close_code=CLOSE_POLICY, before_accept=True, message=f"origin {origin} not allowed")
    conversation_id = params.get("conversation_id") or None
    token = params.get("token") or None
    customer_id = params.get("customer_id") or None
    if customer_id is not None and not _ID.match(customer_id):
        return Refusal(
            CLOSE_BAD_REQUEST, ErrorCode.INVALID_VALUE, "customer_id must be 1-64 of A-Z a-z 0-9 _ . : -"
        )
    raw = params.get("last_seq")
    last_seq: int | None = None
    if raw not in (None, ""):
        # Plain digits only (int() would also take "+1", " 1", "1_0" and other scripts' digits), and no more
        # than a stored seq can be: a larger number overflows the database's integer column.
        last_seq = int(raw) if raw is not None and _DIGITS.fullmatch(raw) else -1
        if not 0 <= last_seq <= MAX_SEQ:
            return Refusal(
                CLOSE_BAD_REQUEST,
                ErrorCode.INVALID_VALUE,
                f"last_seq must be a whole number from 0 to {MAX_SEQ}",
            )
    if conversation_id is None:
        refusal = _check_customer(customer_id, params.get("customer_sig") or "", config)
        if refusal is not None:
            return refusal
        return Handshake(conversation_id=None, customer_id=customer_id, last_seq=None)
    if token is None or not _CONVERSATION_ID.match(conversation_id):
        return Refusal(
            CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "Resuming a conversation needs its id and token."
        )
    claims = signer.check(conversation_id, token)
    if claims is TokenProblem.EXPIRED:
        return Refusal(CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED, EXPIRED_MESSAGE)
    if not isinstance(claims, TokenClaims):
        return Refusal(CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "The conversation token is not valid.")
    # The conversation's customer was fixed (and checked) when it was created; a resume cannot change it.
    if customer_id is not None and (claims.legacy or customer_id != claims.customer_id):
        return Refusal(
            CLOSE_UNAUTHORIZED,
            ErrorCode.UNAUTHORIZED,
            "customer_id does not match this conversation; resume without it, or start a new conversation.",
        )
    return Handshake(
        conversation_id=conversation_id,
        customer_id=claims.customer_id,
        last_seq=last_seq,
        legacy_token=claims.legacy,
    )


def _check_customer(customer_id: str | None, signature: str, config: WsConfig) -> Refusal | None:
    """Whether a new conversation may be for ``customer_id``: signed, or anything in demo mode."""
    if customer_id is None:
        return None
    if config.customer_signing_key is not None:
        if verify_customer(config.customer_signing_key, customer_id, signature):
            return None
        # Without this anyone could claim to be any customer and ask about their purchases.
        return Refusal(CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "customer_id needs a valid customer_sig.")
    if config.demo_mode:
        return None
    return Refusal(
        CLOSE_UNAUTHORIZED,
        ErrorCode.UNAUTHORIZED,
        "customer_id is not accepted: the server has no SHOPCHAT_CUSTOMER_SIGNING_KEY to check it with "
        "(and is not in demo mode). Connect without customer_id to chat as a guest.",
    )
