"""W3C Trace Context (`traceparent`) from an HTTP request, through AMQP, to every consumer log.

The format is `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`. A service:

- accepts it on HTTP with `TraceparentMiddleware` (a missing or malformed header starts a new
  trace; the response echoes the header so a caller can find its logs);
- stores `current_trace().traceparent` with what it writes (the notification service keeps it
  on the event row) and puts `publish_headers(...)` on every AMQP message;
- in a consumer, wraps the handling of one message in `with use_trace(trace_from_headers(h)):`
  so every log line carries the same `trace_id`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

TRACEPARENT_HEADER = "traceparent"
"""Header name on HTTP requests and on AMQP messages (same name in both)."""

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceContext:
        """The same trace with a new span id: what this process passes on to the next hop."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags)

    @classmethod
    def new(cls) -> TraceContext:
        return cls(secrets.token_hex(16), secrets.token_hex(8))


def parse_traceparent(value: str | bytes | None) -> TraceContext | None:
    """The context in a `traceparent` value, or None when absent or malformed (never raises).

    All-zero ids and version `ff` are invalid per the W3C spec.
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1", errors="replace")
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceContext(trace_id, span_id, flags)


_current: ContextVar[TraceContext | None] = ContextVar("tocsin_trace", default=None)


def current_trace() -> TraceContext | None:
    """The trace of the request or message being handled in this task, if any."""
    return _current.get()


@contextmanager
def use_trace(trace: TraceContext | None) -> Iterator[TraceContext]:
    """Make `trace` (or a new one when None) current for the code inside the block."""
    trace = trace or TraceContext.new()
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def trace_from_headers(headers: Mapping[str, Any] | None) -> TraceContext | None:
    """The trace carried by AMQP message headers (or any str-keyed mapping)."""
    if not headers:
        return None
    return parse_traceparent(headers.get(TRACEPARENT_HEADER))


def publish_headers(traceparent: str | None = None) -> dict[str, str]:
    """Headers to add on an AMQP publish: the stored `traceparent` when given, else a child of
    the current trace; empty when there is neither."""
    stored = parse_traceparent(traceparent)
    if stored is not None:
        return {TRACEPARENT_HEADER: stored.traceparent}
    trace = current_trace()
    return {TRACEPARENT_HEADER: trace.child().traceparent} if trace is not None else {}


class TraceparentMiddleware:
    """ASGI middleware: reads `traceparent` (HTTP and WebSocket), makes it current for the
    request, and echoes it on HTTP responses. Malformed values start a new trace."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"traceparent":
                incoming = parse_traceparent(value)
                break
        with use_trace(incoming.child() if incoming else None) as trace:
            header = (b"traceparent", trace.traceparent.encode())

            async def send_with_trace(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), header]}
                await send(message)

            await self.app(scope, receive, send_with_trace)
