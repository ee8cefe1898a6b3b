"""Rendering the gateway's nginx template (infra/nginx/tocsin.conf.template).

The same substitution the nginx image's envsubst makes in the compose file: every
`${GATEWAY_<NAME>}` placeholder is replaced by its value; nginx's own `$variables` are left
alone. A placeholder without a value is an error, so a half-rendered config never starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "nginx" / "tocsin.conf.template"
PLACEHOLDER = re.compile(r"\$\{(GATEWAY_[A-Z0-9_]+)\}")


class MissingGatewayValue(ValueError):
    """The template names a placeholder that was given no value."""


def placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def render(template: str, values: Mapping[str, str]) -> str:
    """The template with every placeholder filled; raises MissingGatewayValue naming those
    without a value."""
    missing = sorted(placeholders(template) - set(values))
    if missing:
        raise MissingGatewayValue(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def servers(addresses: Sequence[str], parameters: str = "") -> str:
    """`server a; server b;` lines of an upstream for `host:port` addresses."""
    suffix = f" {parameters}" if parameters else ""
    return " ".join(f"server {address}{suffix};" for address in addresses)


def upstream_values(upstreams: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """{"realtime": ["127.0.0.1:8011"]} → {"GATEWAY_REALTIME_SERVERS": "server ...;"}."""
    return {
        f"GATEWAY_{name.upper()}_SERVERS": servers(addresses, "max_fails=3 fail_timeout=10s")
        for name, addresses in upstreams.items()
    }
