"""Prometheus metrics of the email consumer (one registry per app, served at /metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass
class EmailMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.deliveries = Counter(
            "tocsin_email_deliveries",
            "Events handled, by outcome (sent, skipped, failed, duplicate, ignored).",
            ["outcome"],
            registry=self.registry,
        )
        self.retries = Counter(
            "tocsin_email_retries",
            "Deliveries scheduled for a retry, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "tocsin_email_dead_lettered",
            "Messages moved to the dead-letter queue, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.send_seconds = Histogram(
            "tocsin_email_send_seconds",
            "Time the SMTP server took to accept one email.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lag_seconds = Histogram(
            "tocsin_email_delivery_lag_seconds",
            "From the notification's event to the SMTP server's acceptance.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
