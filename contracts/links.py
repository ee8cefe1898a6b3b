"""Which `entity_url` values a notification may carry, and therefore which links a client or an
email may follow.

A link is a relative path that starts with a single `/` (`/incidents/42`), resolved against
the application's own origin; a fragment of the current page (`#/incidents/42`, for
single-page applications: it never leaves the page and carries no scheme); or an absolute
`http`/`https` URL whose host is one of the deployment's allowed hosts
(`ENTITY_URL_ALLOWED_HOSTS`). Everything else is refused:
`javascript:`, `data:` and every other scheme, scheme-relative `//evil.example/...`, paths
with a backslash (browsers read `/\\evil.example` as `//evil.example`), credentials in the
URL, and any whitespace or control character (browsers strip some of them before parsing,
which would turn ` javascript:` back into a script). The browser client applies the same rule
(`clients/web/src/core/links.ts`) so a forged broker message cannot bypass it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

ENTITY_URL_REFUSED = "invalid_entity_url"
"""The stable error code of a refused link (422 on the REST API)."""


def allowed_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """Normalise a list of host names (case, surrounding spaces, empty entries)."""
    return frozenset(host.strip().lower().rstrip(".") for host in hosts if host.strip())


def is_safe_link(url: str, hosts: frozenset[str]) -> bool:
    """Whether `url` is a relative path, a fragment, or an http(s) URL on one of `hosts`
    (lower case)."""
    if not url or "\\" in url or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        return False
    if url.startswith("#"):
        return True
    if url.startswith("/"):
        return not url.startswith("//")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or parts.username or parts.password:
        return False
    host = (parts.hostname or "").rstrip(".")
    return bool(host) and host in hosts
