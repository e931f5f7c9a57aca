from __future__ import annotations

import logging

import pytest

from app.web.logfilter import RedactSecrets, ShortenClientFaults, install, redact


def test_tokens_and_signatures_are_redacted() -> None:
    line = (
        '127.0.0.1:5 - "WebSocket /ws/chat?conversation_id=ab12&token=SeCrEt-_x&last_seq=3&customer_sig=f00d"'
    )
    assert redact(line) == (
        '127.0.0.1:5 - "WebSocket /ws/chat?conversation_id=ab12&token=***&last_seq=3&customer_sig=***"'
    )


def test_text_without_credentials_is_unchanged() -> None:
    assert redact("GET /api/products?q=mug&limit=3") == "GET /api/products?q=mug&limit=3"


def test_uvicorn_style_record_args_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.uvicorn.access")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="test.uvicorn.access"):
        logger.info('%s - "%s %s"', "127.0.0.1:1", "GET", "/api/conversations/x?token=abc123")
    assert "abc123" not in caplog.text
    assert "token=***" in caplog.text


def test_install_is_idempotent() -> None:
    install(("test.idempotent",))
    install(("test.idempotent",))
    assert sum(isinstance(f, RedactSecrets) for f in logging.getLogger("test.idempotent").filters) == 1


def test_uvicorns_invalid_utf8_traceback_becomes_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.uvicorn.error")
    logger.addFilter(ShortenClientFaults())
    with caplog.at_level(logging.INFO, logger="test.uvicorn.error"):
        try:
            b"\xff".decode()
        except UnicodeDecodeError:
            logger.exception("Invalid UTF-8 sequence received from client.")
    (record,) = caplog.records
    assert (record.levelno, record.exc_info) == (logging.WARNING, None)
    assert "\n" not in caplog.text.strip()
    assert "1007" in record.getMessage()
