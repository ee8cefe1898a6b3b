"""Prometheus metrics of the notification service core, served by its `/metrics`.

Defined once at import in prometheus-client's default registry (several apps in one process
share them).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CREATED = Counter(
    "tocsin_notification_created",
    "Notifications created through the API (one per recipient).",
)
CREATE_BATCH_ROWS = Histogram(
    "tocsin_notification_create_batch_rows",
    "Notifications written per group-committed create statement.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
RELAY_PUBLISHED = Counter(
    "tocsin_notification_relay_published_events",
    "Events published and confirmed by the broker (unroutable ones included).",
)
RELAY_UNROUTABLE = Counter(
    "tocsin_notification_relay_unroutable_events",
    "Events the broker returned because no queue was bound for them (kept in the store).",
)
RELAY_FAILURES = Counter(
    "tocsin_notification_relay_failures",
    "Relay sessions interrupted (database or broker unreachable, publish not confirmed).",
)
RELAY_ACTIVE = Gauge(
    "tocsin_notification_relay_active",
    "Partitions whose relay lock this process holds and publishes (0 or 1 with one partition).",
)
RELAY_LAG = Gauge(
    "tocsin_notification_relay_lag_events",
    "Committed events not yet published (measured at most once a second while behind).",
)
RELAY_OLDEST_WAITING = Gauge(
    "tocsin_notification_relay_oldest_waiting_seconds",
    "Age of the oldest unpublished event of each relay lane (`urgent`: notifications of "
    "RELAY_URGENT_PRIORITIES, `normal`: the rest), measured with the lag; 0 when caught up.",
    ["lane"],
)


def set_oldest_waiting(urgent_s: float | None, normal_s: float | None) -> None:
    """Set the age of each lane's oldest unpublished event (None: the lane is empty)."""
    RELAY_OLDEST_WAITING.labels(lane="urgent").set(urgent_s or 0.0)
    RELAY_OLDEST_WAITING.labels(lane="normal").set(normal_s or 0.0)
