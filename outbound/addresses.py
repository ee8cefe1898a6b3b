"""Which network addresses an outgoing request (a webhook, a push) may reach (SSRF protection).

Only http(s) URLs are delivered to. Every address a host name resolves to is checked when the
connection is made (see `outbound.transport`), and the connection goes to an address that
was checked, so a DNS answer that changes between the check and the connect cannot slip a
private address in. Registration runs the same checks early to give a clear 422.

Non-global addresses are refused unless the exact address and port are on an explicit
allow-list (`PrivateTargets`, from `WEBHOOK_ALLOWED_PRIVATE_TARGETS`, for local testing), and
never on one of Tocsin's own ports, whatever the list says.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
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


TOCSIN_DEFAULT_PORTS = (
    *(8000, 8001, 8002, 8003, 8004),
    *(8010, 8011, 8012, 8013, 8014, 8015),
    *(5432, 5672, 15672, 25672, 4369, 6379),
)
"""Tocsin's gateway and services (the local run's internal ports too), Postgres, RabbitMQ
(AMQP, management, clustering, epmd) and Redis on their default ports: never webhook targets
on a private address (webhooks and push)."""


class InvalidWebhookUrl(ValueError):
    """The URL is not an absolute http(s) URL with a host."""


@dataclass(frozen=True)
class PrivateTargets:
    """Non-global `address:port` pairs webhooks may reach (local testing only); empty in
    production. Pairs on a `reserved` port (Tocsin's own services) are never allowed."""

    pairs: frozenset[tuple[IPAddress, int]] = frozenset()
    reserved_ports: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str], reserved_ports: Iterable[int] = ()) -> PrivateTargets:
        """From `"127.0.0.1:9999"` / `"[::1]:9999"` entries; raises ValueError on a bad one."""
        pairs: set[tuple[IPAddress, int]] = set()
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            host, sep, port = entry.rpartition(":")
            if not sep or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{entry!r} is not address:port")
            try:
                address = ipaddress.ip_address(host.strip("[]"))
            except ValueError as exc:
                raise ValueError(f"{entry!r}: {host!r} is not an IP address") from exc
            pairs.add((_unmapped(address), int(port)))
        return cls(frozenset(pairs), frozenset(reserved_ports))

    @property
    def usable(self) -> frozenset[tuple[IPAddress, int]]:
        """The pairs that are not on a reserved port."""
        return frozenset(p for p in self.pairs if p[1] not in self.reserved_ports)

    def allows(self, address: IPAddress, port: int) -> bool:
        return port not in self.reserved_ports and (_unmapped(address), port) in self.pairs


NO_PRIVATE_TARGETS = PrivateTargets()


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: IPAddress, port: int, targets: PrivateTargets) -> str | None:
    """Why `address:port` may not be contacted, or None when it may."""
    address = _unmapped(address)
    if address in METADATA_ADDRESSES:
        return "metadata address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_multicast:
        return "multicast address"
    if targets.allows(address, port):
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


def check_address(address: str, port: int, targets: PrivateTargets) -> IPAddress:
    """Parse and check one resolved address; raises BlockedAddress."""
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    reason = refusal(parsed, port, targets)
    if reason is not None:
        raise BlockedAddress(f"{address} is a {reason}")
    return parsed


async def resolve_checked(host: str, port: int, targets: PrivateTargets) -> list[str]:
    """Resolve `host` and check every address it has; raises BlockedAddress if any is refused
    (a name with one private address among public ones is refused as a whole), or OSError
    when it does not resolve."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        check_address(str(literal), port, targets)
        return [str(literal)]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host} has no address")
    for address in addresses:
        check_address(address, port, targets)
    return addresses


def validate_url(url: str, targets: PrivateTargets) -> str:
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
        check_address(host, port or default_port(url), targets)
    elif not HOSTNAME.match(_ascii(host)):
        raise InvalidWebhookUrl(f"{host!r} is not a valid host name")
    elif host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES):
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
