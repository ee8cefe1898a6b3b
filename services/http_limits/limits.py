"""The limits as a value, and the environment variables every HTTP service reads them from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import Send

HEADERS_TOO_LARGE = "headers_too_large"
PAYLOAD_TOO_LARGE = "payload_too_large"
REQUEST_TIMEOUT = "request_timeout"
TOO_MANY_CONNECTIONS = "too_many_connections"


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = 32 * 1024
    """Request line and headers together."""
    max_body_bytes: int = 1024 * 1024
    header_timeout_s: float = 10.0
    """From the connection (or the request's first byte) to the end of its headers."""
    max_connections: int | None = 1000
    """Open connections (WebSockets included) beyond which a request gets 503; None: no cap."""


class HttpLimitsSettings(BaseSettings):
    """Base for a service's Settings: HTTP_MAX_HEADER_BYTES, HTTP_MAX_BODY_BYTES,
    HTTP_HEADER_TIMEOUT_S and HTTP_MAX_CONNECTIONS, read as one `http_limits` value."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    http_max_header_bytes: int = Field(
        default=HttpLimits.max_header_bytes,
        ge=1024,
        description="Request line plus headers; more is answered 431 `headers_too_large`.",
    )
    http_max_body_bytes: int = Field(
        default=HttpLimits.max_body_bytes,
        ge=1024,
        description="Request body, by Content-Length and while streaming; more: 413.",
    )
    http_header_timeout_s: float = Field(
        default=HttpLimits.header_timeout_s,
        gt=0,
        description="Time to send a request's headers; slower: 408 and the connection closes.",
    )
    http_max_connections: int = Field(
        default=1000,
        ge=0,
        description="Open connections beyond which requests get 503; 0 lifts the cap.",
    )

    @property
    def http_limits(self) -> HttpLimits:
        return HttpLimits(
            max_header_bytes=self.http_max_header_bytes,
            max_body_bytes=self.http_max_body_bytes,
            header_timeout_s=self.http_header_timeout_s,
            max_connections=self.http_max_connections or None,
        )


def error_body(code: str, message: str) -> bytes:
    """The services' error shape, `{"error": {"code", "message"}}`."""
    return orjson.dumps({"error": {"code": code, "message": message}})


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer an ASGI request with the JSON error."""
    body = error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
