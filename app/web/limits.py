"""Websocket connection limits, read from settings at start-up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WsConfig:
    """Per-connection limits and who may name a customer, from settings.

    ``demo_mode`` lets a new conversation name any customer without a signature (the demo shop only);
    otherwise a ``customer_id`` needs ``customer_sig`` made with ``customer_signing_key``, and without a key
    customer ids are refused.
    """

    allowed_origins: frozenset[str]
    customer_signing_key: bytes | None
    max_frame_bytes: int
    rate_limit_per_minute: int
    max_message_chars: int
    demo_mode: bool = False
