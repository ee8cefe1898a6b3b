"""Prometheus metrics of one webhook service process (its own registry, so tests can build
several apps in one interpreter)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "tocsin_webhook_attempts",
            "HTTP attempts by result (succeeded, retry, failed).",
            ["result"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "tocsin_webhook_deliveries",
            "Deliveries (event x endpoint) finished, by final status.",
            ["status"],
            registry=self.registry,
        )
        self.messages = Counter(
            "tocsin_webhook_messages",
            "Queue messages by outcome (acked, retried, dead_lettered).",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.paced = Counter(
            "tocsin_webhook_paced_attempts",
            "Attempts delayed because their endpoint was over WEBHOOK_ENDPOINT_RATE_PER_S.",
            registry=self.registry,
        )
        self.paced_seconds = Counter(
            "tocsin_webhook_paced_seconds",
            "Seconds attempts waited for their endpoint's delivery rate.",
            registry=self.registry,
        )
        self.latency = Histogram(
            "tocsin_webhook_attempt_duration_seconds",
            "Duration of one HTTP attempt.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
            registry=self.registry,
        )
        self.end_to_end = Histogram(
            "tocsin_webhook_delivery_latency_seconds",
            "From the event's occurred_at to a successful delivery.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 36000),
            registry=self.registry,
        )
