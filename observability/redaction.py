"""Secrets never reach a log line: one filter, installed on the handler by `configure_logging`.

It rewrites each record before any formatter sees it — the message with its arguments, the
exception and stack text, and every string passed with `extra=` — replacing:

- query-string tokens (`token=...`, `access_token=...`), as in a WebSocket handshake's path;
- `Authorization` header values and `Bearer ...` credentials;
- webhook signing secrets (`whsec_...`);
- anything shaped like a JWT (three base64url parts, the first starting with `eyJ`).

SQL parameters are kept out at the source instead: every engine is created with
`hide_parameters=True` (see `database.engine`).
"""

from __future__ import annotations

import logging
import re
import traceback

REDACTED = "REDACTED"  # as the gateway's access log writes it

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b((?:access_)?token=)[^&\s\"'<>]+"), rf"\1{REDACTED}"),
    (
        re.compile(
            r"(?i)(\bauthorization[\"']?\s*[:=,]\s*[\"']?)(?:(?:bearer|basic)\s+)?[^\s\"',)]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), f"Bearer {REDACTED}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"), f"whsec_{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


def redact(text: str) -> str:
    """`text` with every token, Authorization value and secret replaced by `REDACTED`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record in place (never drops it). Install it on handlers, not loggers: a
    logger's filters do not see records propagated from its children."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True
