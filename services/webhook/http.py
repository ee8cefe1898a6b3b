"""Outbound HTTP for webhooks: an httpx client that connects only to checked addresses.

`GuardedBackend` resolves the host itself, checks every address (`addresses.refusal`) and
connects to a checked IP; TLS still verifies the certificate against the URL's host name,
because httpcore takes the server name from the request, not from the socket. Redirects are
never followed and proxies from the environment are ignored (a proxy would bypass the check).
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import time
import typing
from dataclasses import dataclass
from datetime import UTC, datetime

import httpcore
import httpx

from services.webhook.addresses import BlockedAddress, PrivateTargets, resolve_checked

USER_AGENT = "Tocsin-Webhooks/1.0"
EXCERPT_CHARS = 1024


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that refuses to connect to addresses webhooks may not reach."""

    def __init__(self, targets: PrivateTargets) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._targets = targets

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_checked(host, port, self._targets)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on `GuardedBackend`."""

    def __init__(self, targets: PrivateTargets, max_connections: int = 100) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections // 2,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(targets),
        )


def webhook_client(
    targets: PrivateTargets, timeout_s: float, max_connections: int
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=GuardedTransport(targets, max_connections),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


@dataclass(frozen=True)
class HttpResult:
    """What one POST produced. `status_code` is None when no response came back."""

    status_code: int | None
    duration_ms: int
    error: str | None = None
    blocked: bool = False
    timed_out: bool = False
    retry_after_s: float | None = None
    excerpt: str | None = None


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float,
    max_response_bytes: int,
) -> HttpResult:
    """POST `body` to `url`; never raises for network trouble (it is part of the result).

    The whole exchange, body read included, is bounded by `timeout_s`; at most
    `max_response_bytes` of the response body are read.
    """
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(timeout_s):
            request_headers = {"content-type": "application/json", **headers}
            async with client.stream("POST", url, content=body, headers=request_headers) as resp:
                chunks = bytearray()
                async for chunk in resp.aiter_bytes():
                    chunks.extend(chunk[: max_response_bytes - len(chunks)])
                    if len(chunks) >= max_response_bytes:
                        break
                excerpt = bytes(chunks[:EXCERPT_CHARS]).decode("utf-8", "replace") or None
                return HttpResult(
                    status_code=resp.status_code,
                    duration_ms=elapsed(),
                    retry_after_s=parse_retry_after(resp.headers.get("retry-after")),
                    excerpt=excerpt if _public_peer(resp) else None,
                )
    except BlockedAddress as exc:
        return HttpResult(None, elapsed(), error=f"blocked: {exc}", blocked=True)
    except (TimeoutError, httpx.TimeoutException):
        return HttpResult(None, elapsed(), error=f"timeout after {timeout_s}s", timed_out=True)
    except httpx.HTTPError as exc:
        return HttpResult(None, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    except OSError as exc:  # DNS failure and friends
        return HttpResult(None, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])


def _public_peer(response: httpx.Response) -> bool:
    """Whether the response came from a global address: what a private target (allowed for
    testing) answers is never stored, so webhooks cannot be used to read internal services."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
