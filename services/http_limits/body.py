"""413 before the app reads a body that is too large: on `Content-Length` at once, and on the
bytes actually received for a chunked (or lying) body.

An ASGI middleware outside everything else, so the check comes before authentication and
before FastAPI buffers and parses the body. The rest of a refused body is read and dropped by
the protocol (`LimitedHttpToolsProtocol.on_body`, bounded) rather than left unread: closing on a
client still uploading would reset the connection before it reads the 413.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from services.http_limits.limits import PAYLOAD_TOO_LARGE, send_error

AnyAsgiApp = Callable[[Any, Any, Any], Awaitable[None]]
"""An ASGI app, however precisely it types its arguments."""


class BodyTooLarge(Exception):
    """Raised into the app from `receive` once the body passed the limit."""


class BodyLimit:
    def __init__(self, app: AnyAsgiApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            # No frame of ours stays alive (holding the scope) for a WebSocket's lifetime.
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app makes of the exception, the answer is 413
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        message = f"the request body is larger than {self.max_body_bytes} bytes"
        await send_error(send, 413, PAYLOAD_TOO_LARGE, message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
