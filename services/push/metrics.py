"""Prometheus metrics of the push service (one registry per app, served at /metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.messages = Counter(
            "tocsin_push_messages",
            "Queue messages handled, by outcome (acked, retried, dead_lettered) and reason.",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.scheduled = Counter(
            "tocsin_push_scheduled",
            "Notifications seen, by what the policy decided (now, delayed, never, off).",
            ["decision"],
            registry=self.registry,
        )
        self.cancelled = Counter(
            "tocsin_push_cancelled",
            "Waiting pushes cancelled because the notification was read or deleted.",
            registry=self.registry,
        )
        self.sends = Counter(
            "tocsin_push_sends",
            "Sends to one device, by device kind and result (delivered, gone, retry, failed).",
            ["kind", "result"],
            registry=self.registry,
        )
        self.pushes = Counter(
            "tocsin_push_pushes",
            "Pushes finished, by state (sent, failed).",
            ["state"],
            registry=self.registry,
        )
        self.send_seconds = Histogram(
            "tocsin_push_send_seconds",
            "Time one send took (encryption and HTTP exchange), by device kind.",
            ["kind"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.timer_lateness = Histogram(
            "tocsin_push_timer_lateness_seconds",
            "How late a push was claimed after it became due.",
            buckets=BUCKETS,
            registry=self.registry,
        )
