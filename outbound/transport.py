"""An httpx transport that connects only to checked addresses.

`GuardedBackend` resolves the host itself, checks every address (`addresses.refusal`) and
connects to a checked IP; TLS still verifies the certificate against the URL's host name,
because httpcore takes the server name from the request, not from the socket. Proxies from the
environment are ignored (a proxy would bypass the check).

`targets` (`addresses.PrivateTargets`) is the explicit allow-list of non-global
`address:port` pairs for local testing; Tocsin's own ports are never in it. Nothing else
bypasses the check.
"""

from __future__ import annotations

import email.utils
import typing
from datetime import UTC, datetime

import httpcore
import httpx

from outbound.addresses import BlockedAddress, PrivateTargets, resolve_checked


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that refuses to connect to addresses outgoing requests may not reach."""

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
        raise BlockedAddress("unix sockets are not outgoing targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on `GuardedBackend`.

    `http2_only` speaks HTTP/2 on every connection: negotiated by ALPN over TLS, with prior
    knowledge over cleartext (only reachable through `targets`)."""

    def __init__(
        self,
        targets: PrivateTargets,
        max_connections: int = 100,
        *,
        http2: bool = False,
        http2_only: bool = False,
    ) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections // 2,
            keepalive_expiry=30.0,
            http1=not http2_only,
            http2=http2 or http2_only,
            network_backend=GuardedBackend(targets),
        )


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
