"""What a websocket's opening request asks for, decided without I/O: go ahead, or refuse and how."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from app.errors import ErrorCode
from app.web.auth import TokenSigner, verify_customer
from app.web.limits import WsConfig

CLOSE_POLICY = 1008
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_UNAVAILABLE = 1011

_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_CONVERSATION_ID = re.compile(r"^[0-9a-f]{32}$")
_DIGITS = re.compile(r"[0-9]{1,10}")
# The largest seq the events table holds (a 32-bit integer column on PostgreSQL).
MAX_SEQ = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Handshake:
    """A connection to let in: a new conversation (no id) or a resumed one with a verified token."""

    conversation_id: str | None
    customer_id: str | None
    last_seq: int | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A connection to turn away; ``before_accept`` refusals get HTTP 403 and no error frame."""

    close_code: int
    code: ErrorCode | None = None
    message: str = ""
    before_accept: bool = False


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
    if (
        customer_id is not None
        and conversation_id is None
        and config.customer_signing_key is not None
        and not verify_customer(config.customer_signing_key, customer_id, params.get("customer_sig") or "")
    ):
        # Without this anyone could claim to be any customer and ask about their purchases.
        return Refusal(CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "customer_id needs a valid customer_sig.")
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
        return Handshake(conversation_id=None, customer_id=customer_id, last_seq=None)
    if token is None or not _CONVERSATION_ID.match(conversation_id):
        return Refusal(
            CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "Resuming a conversation needs its id and token."
        )
    if not signer.verify(conversation_id, token):
        return Refusal(CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "The conversation token is not valid.")
    return Handshake(conversation_id=conversation_id, customer_id=customer_id, last_seq=last_seq)
