"""Logs, traces and metrics shared by every Tocsin entrypoint.

- `configure_logging(service)`: one JSON object per line on stderr, called once in `__main__`,
  with tokens and secrets redacted (`redaction.RedactSecrets`).
- `tracing`: W3C `traceparent` for HTTP requests (ASGI middleware), AMQP headers on publish, and
  the current trace in every log line of a consumer.
- `metrics`: Prometheus helpers (`/metrics` for FastAPI apps, a port for consumers without HTTP).
"""

from observability.logs import JsonFormatter, configure_logging
from observability.metrics import METRIC_PREFIX, metrics_endpoint, metrics_response, serve_metrics
from observability.tracing import (
    TRACEPARENT_HEADER,
    TraceContext,
    TraceparentMiddleware,
    current_trace,
    publish_headers,
    trace_from_headers,
    use_trace,
)

__all__ = [
    "METRIC_PREFIX",
    "TRACEPARENT_HEADER",
    "JsonFormatter",
    "TraceContext",
    "TraceparentMiddleware",
    "configure_logging",
    "current_trace",
    "metrics_endpoint",
    "metrics_response",
    "publish_headers",
    "serve_metrics",
    "trace_from_headers",
    "use_trace",
]
