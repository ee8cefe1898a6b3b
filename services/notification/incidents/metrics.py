"""Prometheus metrics of incident ingestion, served by the notification service's `/metrics`.

They live in prometheus-client's default registry, which `/metrics` serves; defining them once
here (at import) is what keeps a second app in the same process from registering them twice.
"""

from __future__ import annotations

from aio_pika.abc import AbstractIncomingMessage
from prometheus_client import Counter, Histogram

EVENTS = Counter(
    "tocsin_notification_incident_events",
    "Incident events handled, by outcome (acked, retried, dead_lettered) and reason.",
    ["outcome", "reason"],
)
BATCH_SIZE = Histogram(
    "tocsin_notification_incident_batch_size",
    "Incident events ingested per database transaction (group commit).",
    buckets=(1, 2, 5, 10, 20, 50, 100),
)


def record_outcome(outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
    """A RetryingConsumer outcome listener."""
    EVENTS.labels(outcome=outcome, reason=reason or "").inc()
