"""Keep credentials out of logs: uvicorn logs request paths, and websocket URLs carry conversation tokens."""

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


def install(loggers: tuple[str, ...] = SERVER_LOGGERS) -> None:
    """Attach the filter to the server's loggers once."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
