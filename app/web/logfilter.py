"""Keep credentials out of logs (uvicorn logs request paths, and websocket URLs carry conversation tokens), and
keep a client's mistakes from filling them (uvicorn logs a traceback for each invalid UTF-8 frame)."""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(r"\b(token|customer_sig)=[^&\s\"']+")
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with the values of credential query parameters replaced by ``***``."""
    return _SECRET_PARAM.sub(r"\1=***", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message arguments so no formatter ever sees a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


# uvicorn's websocket protocol logs this, with a traceback, when a text frame is not UTF-8, then closes with 1007.
_INVALID_UTF8 = "Invalid UTF-8 sequence received from client."


class ShortenClientFaults(logging.Filter):
    """Turns uvicorn's traceback for a client's invalid UTF-8 frame into one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite that record in place; never drops a record."""
        if record.msg == _INVALID_UTF8:
            record.msg = "a websocket client sent a text frame that is not UTF-8; closed it with 1007"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        return True


def install(loggers: tuple[str, ...] = SERVER_LOGGERS) -> None:
    """Attach the filters to the server's loggers once."""
    for name in loggers:
        logger = logging.getLogger(name)
        for kind in (RedactSecrets, ShortenClientFaults):
            if not any(isinstance(f, kind) for f in logger.filters):
                logger.addFilter(kind())
