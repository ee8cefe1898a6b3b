"""Keeping tokens out of logs: one filter on the handler `configure_logging` installs, so every
record of every logger of a service passes through it.

It rewrites the final message (and a formatted traceback) with `token=<value>` query values
(a WebSocket handshake carries the JWT there; uvicorn logs the path) and `Bearer <value>`
credentials replaced by `REDACTED`. The gateway's access log does the same with an nginx map.
"""

from __future__ import annotations

import logging
import re

REDACTED = "REDACTED"
_QUERY_TOKEN = re.compile(r"(?i)(\btoken=)[^&\s\"'#]+")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """`text` with query-string tokens and bearer credentials replaced by REDACTED."""
    return _BEARER.sub(rf"\g<1>{REDACTED}", _QUERY_TOKEN.sub(rf"\g<1>{REDACTED}", text))


class RedactTokens(logging.Filter):
    """Rewrites each record's message (args merged in) and traceback text; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
