"""Keeping tokens out of the logs.

Clients may put their token in a WebSocket URL (`?token=`), and websockets'
debug log and uvicorn's access log print request lines and headers. Every
record of those loggers passes through this filter first.
"""

from __future__ import annotations

import logging
import re

WS_LOGGER = "jobdesk.server.ws.protocol"
_LOGGERS = ("uvicorn.access", "uvicorn.error", WS_LOGGER)

_SECRET = re.compile(r"((?:[?&]token=)|(?:bearer\s+))[^&\s\"']+|\bjd_[A-Za-z0-9_-]{16,}", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: (m.group(1) or "") + "***", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
