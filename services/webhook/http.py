"""Outbound HTTP for webhooks: an httpx client that connects only to checked addresses
(`outbound.transport.GuardedTransport`). Redirects are never followed and proxies from the
environment are ignored (a proxy would bypass the check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass

import httpx

from outbound.addresses import BlockedAddress, PrivateTargets
from outbound.transport import GuardedTransport, parse_retry_after

USER_AGENT = "Tocsin-Webhooks/1.0"
EXCERPT_CHARS = 1024


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
