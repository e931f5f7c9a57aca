"""Websocket connection limits, read from settings at start-up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WsConfig:
    """Per-connection limits, from settings."""

    allowed_origins: frozenset[str]
    customer_signing_key: bytes | None
    max_frame_bytes: int
    rate_limit_per_minute: int
    max_message_chars: int
