"""Which network addresses an outgoing request (a webhook, a push) may reach (SSRF protection).

Only http(s) URLs are delivered to. Every address a host name resolves to is checked when the
connection is made (see `outbound.transport`), and the connection goes to an address that
was checked, so a DNS answer that changes between the check and the connect cannot slip a
private address in. Registration runs the same checks early to give a clear 422.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
"""Cloud metadata services: refused even when private networks are allowed."""

CGNAT = ipaddress.ip_network("100.64.0.0/10")
LOCAL_NAMES = ("localhost", "localhost.localdomain")
LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*$")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal")


class BlockedAddress(Exception):
    """The target resolves to an address webhooks may not reach."""


class InvalidWebhookUrl(ValueError):
    """The URL is not an absolute http(s) URL with a host."""


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why `address` may not be contacted, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped, allow_private)
    if address in METADATA_ADDRESSES:
        return "metadata address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_multicast:
        return "multicast address"
    if allow_private:
        return None
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("carrier-grade NAT", isinstance(address, ipaddress.IPv4Address) and address in CGNAT),
        ("non-global", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address"
    return None


def check_address(address: str, allow_private: bool) -> IPAddress:
    """Parse and check one resolved address; raises BlockedAddress."""
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    reason = refusal(parsed, allow_private)
    if reason is not None:
        raise BlockedAddress(f"{address} is a {reason}")
    return parsed


async def resolve_checked(host: str, port: int, allow_private: bool) -> list[str]:
    """Resolve `host` and check every address it has; raises BlockedAddress if any is refused
    (a name with one private address among public ones is refused as a whole), or OSError
    when it does not resolve."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        check_address(str(literal), allow_private)
        return [str(literal)]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host} has no address")
    for address in addresses:
        check_address(address, allow_private)
    return addresses


def validate_url(url: str, allow_private: bool) -> str:
    """The checks that need no DNS: scheme, host, credentials, literal and local addresses.

    Raises InvalidWebhookUrl or BlockedAddress.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhookUrl(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidWebhookUrl("only http and https URLs are allowed")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidWebhookUrl("the URL has no host")
    if parts.username or parts.password:
        raise InvalidWebhookUrl("credentials in the URL are not allowed")
    if port == 0:
        raise InvalidWebhookUrl("port 0 is not allowed")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        check_address(host, allow_private)
    elif not HOSTNAME.match(_ascii(host)):
        raise InvalidWebhookUrl(f"{host!r} is not a valid host name")
    elif not allow_private and (host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES)):
        raise BlockedAddress(f"{host} is a local name")
    return url


def _ascii(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


def default_port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)
