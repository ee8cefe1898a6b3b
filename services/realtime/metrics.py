"""Prometheus metrics, read from the instance's parts at scrape time; no per-frame cost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contracts.websocket import CloseCode
from services.realtime.catchup import CatchupClient
from services.realtime.endpoint import SocketEndpoint
from services.realtime.hub import Hub
from services.realtime.presence.service import Presence
from services.realtime.selfcheck import SelfCheck
from services.realtime.subscription import Subscription


@dataclass(eq=False)  # registered by identity: prometheus_client keys collectors by hash
class RealtimeCollector(Collector):
    """Reads the counters the parts keep; `consumed` answers the broker messages consumed."""

    hub: Hub
    subscription: Subscription
    endpoint: SocketEndpoint
    catchup: CatchupClient
    presence: Presence
    selfcheck: SelfCheck
    consumed: Callable[[], int]

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        yield GaugeMetricFamily(
            "tocsin_realtime_connections", "Open sockets", value=hub.connection_count()
        )
        yield GaugeMetricFamily("tocsin_realtime_users", "Users with a socket", hub.user_count())
        yield GaugeMetricFamily(
            "tocsin_realtime_bound_users",
            "Users whose routing key is bound to this instance's queue",
            value=self.subscription.bound_users(),
        )
        yield CounterMetricFamily(
            "tocsin_realtime_connections_accepted",
            "Sockets accepted since start",
            value=hub.connections_total,
        )
        yield CounterMetricFamily(
            "tocsin_realtime_connections_refused",
            "Handshakes refused (origin, token, cap)",
            value=self.endpoint.refused,
        )
        yield CounterMetricFamily(
            "tocsin_realtime_latest_seq_lookups",
            "Latest-seq questions to the notification service (sockets without since)",
            value=self.endpoint.latest_seq_lookups,
        )
        yield CounterMetricFamily(
            "tocsin_realtime_latest_seq_requests",
            "Requests that carried those questions (questions asked meanwhile go together)",
            value=self.catchup.latest_seq_requests,
        )
        presence = self.presence
        if presence.tracker.online_count is not None:
            yield GaugeMetricFamily(
                "tocsin_realtime_presence_online_users",
                "Users online on any instance, as of this instance's last presence heartbeat",
                value=presence.tracker.online_count,
            )
        yield CounterMetricFamily(
            "tocsin_realtime_presence_store_errors",
            "Presence store calls that failed (writes are retried with the full state)",
            value=presence.errors,
        )
        yield CounterMetricFamily(
            "tocsin_realtime_events_consumed", "Broker messages consumed", self.consumed()
        )
        yield CounterMetricFamily(
            "tocsin_realtime_messages_sent", "Frames queued to sockets", value=hub.frames_queued
        )
        yield CounterMetricFamily(
            "tocsin_realtime_broker_reconnects",
            "Reconnections to the broker (the queue consumed and every user bound again)",
            value=self.subscription.reconnects,
        )
        yield CounterMetricFamily(
            "tocsin_realtime_rebind_failures",
            "Users whose binding failed again after a reconnect (their sockets catch up)",
            value=self.subscription.rebind_failures,
        )
        yield CounterMetricFamily(
            "tocsin_realtime_self_checks",
            "Self-check rounds (latest seqs compared with what this instance received)",
            value=self.selfcheck.rounds,
        )
        yield CounterMetricFamily(
            "tocsin_realtime_stalled_users",
            "Users whose events stopped arriving, found by the self-check, bound again and "
            "told to catch up",
            value=self.selfcheck.stalled,
        )
        yield CounterMetricFamily(
            "tocsin_realtime_slow_consumer_closes",
            f"Sockets closed with {CloseCode.SLOW_CONSUMER.value}",
            value=hub.slow_consumer_closes,
        )


def registry_for(collector: Collector) -> CollectorRegistry:
    """A registry holding only this instance's metrics, not prometheus_client's process-wide one."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
