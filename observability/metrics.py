"""Prometheus helpers. Each service defines its own counters with prometheus-client, named
`tocsin_<service>_<what>_<unit>` (e.g. `tocsin_email_deliveries_total`,
`tocsin_realtime_connections`, `tocsin_notification_relay_lag_events`); this module serves them.

- FastAPI/Starlette apps: `app.add_route("/metrics", metrics_endpoint)` or return
  `metrics_response()` from a route.
- Consumers without HTTP: `serve_metrics(port)` in their lifespan (a daemon thread).
"""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import start_http_server as _start_http_server

METRIC_PREFIX = "tocsin_"
_NAME = re.compile(r"^tocsin_[a-z][a-z0-9_]*$")


def metrics_response(registry: CollectorRegistry = REGISTRY) -> Any:
    """A Starlette `Response` with the registry in the Prometheus text format."""
    from starlette.responses import Response

    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def metrics_endpoint(request: Any) -> Any:
    """A Starlette route handler: `app.add_route("/metrics", metrics_endpoint)`."""
    return metrics_response()


def serve_metrics(port: int, host: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY) -> Any:
    """Serve `/metrics` on `port` from a daemon thread; returns the server (call `shutdown()`)."""
    server, _thread = _start_http_server(port, addr=host, registry=registry)
    return server


def badly_named_metrics(registry: CollectorRegistry = REGISTRY) -> list[str]:
    """Names of Tocsin metrics in `registry` that do not follow `tocsin_<service>_<what>`.

    Metrics of libraries (`python_*`, `process_*`) are ignored.
    """
    bad = []
    for family in registry.collect():
        name = family.name
        if name.startswith(("python_", "process_", "platform_")):
            continue
        if not _NAME.match(name):
            bad.append(name)
    return sorted(bad)


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → {"name{labels}": value}: for `tocsin status` and tests."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            values[key] = float(value)
        except ValueError:
            continue
    return values
