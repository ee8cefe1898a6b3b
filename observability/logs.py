"""JSON logs: one object per line with ts, level, service, logger, message, and the ids that let
a notification be followed across services (event_id, user_id, trace_id, correlation_id),
with tokens and secrets redacted (`observability.redaction`).

Call `configure_logging(service, level)` once in a service's `__main__`; modules keep using
`logger = logging.getLogger(__name__)` and pass ids as `extra={"event_id": ..., "user_id": ...}`.
The current trace (see `observability.tracing`) is added to every line automatically.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from observability.redaction import RedactSecrets
from observability.tracing import current_trace

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace = current_trace()
        if trace is not None:
            entry["trace_id"] = trace.trace_id
            entry["span_id"] = trace.span_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if "correlation_id" not in entry and "trace_id" in entry:
            entry["correlation_id"] = entry["trace_id"]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # formatted (and redacted) by RedactSecrets
            entry["exception"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(JsonFormatter):
    """For a person at a terminal (`LOG_FORMAT=text`): `ts level service logger: message k=v`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = orjson.loads(super().format(record))
        head = " ".join(str(entry.pop(k)) for k in ("ts", "level", "service"))
        logger_name, message = entry.pop("logger"), entry.pop("message")
        exception = entry.pop("exception", None)
        extras = " ".join(f"{k}={v}" for k, v in entry.items() if k != "span_id")
        line = f"{head} {logger_name}: {message}" + (f" {extras}" if extras else "")
        return f"{line}\n{exception}" if exception else line


def configure_logging(
    service: str,
    level: str = "INFO",
    stream: TextIO | None = None,
    log_format: str | None = None,
) -> None:
    """Route every logger (including uvicorn's and aio-pika's) to one handler: JSON lines, or
    text when `log_format` (default: the LOG_FORMAT environment variable) is `text`.

    Every line passes `RedactSecrets` first: no token, Authorization value or secret is written.
    Idempotent: calling it again replaces the handler instead of adding a second one.
    """
    chosen = (log_format or os.environ.get("LOG_FORMAT") or "json").lower()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(TextFormatter(service) if chosen == "text" else JsonFormatter(service))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    for noisy in ("aio_pika", "aiormq"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
