"""uvicorn's httptools protocol with a bound on header size and header read time, and a JSON
503 instead of uvicorn's plain-text one when the connection cap (`limit_concurrency`) is hit.

httptools keeps every header of a request (and a header line still being read) in memory
until the headers end, with no bound: 16 MB of headers cost 16 MB. Here the bytes read while a
request's headers are incomplete are counted after each read, and the completed headers are
counted too; past `max_header_bytes` the connection gets 431 and is closed. A connection that
has not finished sending a request's headers within `header_timeout_s` of opening (or of the
request's first byte) gets 408 and is closed, so half-open connections cost nothing for long.
Body bytes that arrive after the response (the rest of a body refused with 413) are dropped,
not buffered, up to `DISCARD_FACTOR` times the body limit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.http_limits.limits import (
    HEADERS_TOO_LARGE,
    REQUEST_TIMEOUT,
    TOO_MANY_CONNECTIONS,
    HttpLimits,
    error_body,
    send_error,
)

DISCARD_FACTOR = 16
"""Body bytes read and dropped after the response, in multiples of the body limit, before the
connection is closed instead."""
REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """Built by uvicorn for each connection, through `functools.partial(..., limits=...)`."""

    def __init__(self, *args: Any, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._header_bytes = 0
        self._reading_headers = True
        self._refused = False
        self._discarded = 0
        self._header_deadline: asyncio.TimerHandle | None = None

    # -- the header deadline ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(
                self.limits.header_timeout_s, self._headers_too_slow
            )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is being written: no room for a 408 in it
            return
        self._refuse(408, REQUEST_TIMEOUT, "the request headers took too long to arrive")

    # -- the header size --------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._reading_headers and not self._refused:
            self._header_bytes += len(data)
            self._check_header_bytes()

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._reading_headers = True
        self._header_bytes = 0
        self._discarded = 0
        self._arm_header_deadline()

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._disarm_header_deadline()
        self._reading_headers = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        self._header_bytes = 0
        if size > self.limits.max_header_bytes:
            self._refuse_headers()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        if self.cycle is not None and self.cycle.response_complete:
            # Answered already (a 413, say): drop the rest of the body, up to a bound.
            self._discarded += len(body)
            if self._discarded > self.limits.max_body_bytes * DISCARD_FACTOR:
                self.transport.close()
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _check_header_bytes(self) -> None:
        if self._header_bytes > self.limits.max_header_bytes:
            self._refuse_headers()

    def _refuse_headers(self) -> None:
        message = f"the request headers are larger than {self.limits.max_header_bytes} bytes"
        self._refuse(431, HEADERS_TOO_LARGE, message)

    # -- the connection cap -----------------------------------------------------------------

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        chosen = _too_many_connections if app is service_unavailable else app
        super()._start_asgi_task(cycle, chosen)

    # -- answering and closing --------------------------------------------------------------

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer `status` with the JSON error and close; nothing more is read or parsed."""
        self._refused = True
        self._disarm_header_deadline()
        self.headers = []
        self.url = b""
        if self.transport.is_closing():
            return
        body = error_body(code, message)
        self.transport.write(
            b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])
            + b"content-type: application/json\r\n"
            + b"content-length: %d\r\n" % len(body)
            + b"connection: close\r\n\r\n"
            + body
        )
        self.transport.close()


async def _too_many_connections(scope: Any, receive: Any, send: Any) -> None:
    message = "the service has too many open connections; retry"
    headers = [(b"retry-after", b"1"), (b"connection", b"close")]
    await send_error(send, 503, TOO_MANY_CONNECTIONS, message, headers)
