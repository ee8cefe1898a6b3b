"""`tocsin status`: queues, dead letters, relay lag (and each relay lane's oldest waiting
event), sockets and readiness on one screen.

Unhealthy (exit 1) when a consumer queue is missing, a queue holds messages but has no
consumer, the relay has left an event unpublished for longer than the allowed lag, or a
service does not answer its /readyz. Dead letters are shown as a warning, and are unhealthy
only with `--fail-on-dlq`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from database.partitions import partition_holders, pending_by_partition, recorded_partitions
from observability.metrics import parse_metrics
from services.notification.lanes import oldest_waiting, parse_urgent_priorities
from tocsin_cli import registry
from tocsin_cli.connections import broker, database, queue_depth
from tocsin_cli.eventstore import ensure_event_store, relay_lag
from tocsin_cli.settings import CliSettings

REALTIME_CONNECTIONS_METRIC = "tocsin_realtime_connections"
PRESENCE_ONLINE_METRIC = "tocsin_realtime_presence_online_users"


@dataclass
class QueueRow:
    consumer: str
    queue: str
    ready: int | None
    consumers: int | None
    dead_letters: int | None


@dataclass
class PartitionRow:
    partition: int
    holder: str | None
    """The session holding the partition's relay lock (`tocsin-relay-<pid>`), None: no relay."""
    pending: int
    oldest_pending_s: float | None


@dataclass
class Report:
    queues: list[QueueRow] = field(default_factory=list)
    pending_events: int = 0
    oldest_pending_s: float | None = None
    newest_position: int | None = None
    lane_oldest_s: dict[str, float | None] = field(default_factory=dict)
    """The relay's lanes (`urgent`, `normal`) → age in seconds of each one's oldest waiting
    event (None: nothing waits in it)."""
    partitions: list[PartitionRow] = field(default_factory=list)
    sockets: dict[str, int | None] = field(default_factory=dict)
    online_users: int | None = None
    """Users online on any realtime instance (presence), as the instances last saw it."""
    readiness: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


async def collect(
    settings: CliSettings,
    *,
    service_urls: dict[str, str],
    realtime_urls: list[str],
    max_relay_lag_s: float,
    fail_on_dlq: bool = False,
) -> Report:
    report = Report()
    async with broker(settings) as connection:
        for entry in registry.durable_consumers():
            try:
                registry.consumer_spec(entry.name, settings.topology)
            except registry.ConsumerNotInstalled as exc:
                report.warnings.append(f"not checked: {exc}")
                continue
            queue = settings.topology.queue(entry.name)
            depth = await queue_depth(connection, queue)
            dlq = await queue_depth(connection, settings.topology.dead_letter_queue(entry.name))
            row = QueueRow(
                entry.name,
                queue,
                depth[0] if depth else None,
                depth[1] if depth else None,
                dlq[0] if dlq else None,
            )
            report.queues.append(row)
            if depth is None:
                report.problems.append(f"queue {queue} is not declared")
            elif depth[0] > 0 and depth[1] == 0:
                report.problems.append(f"{queue} holds {depth[0]} messages and has no consumer")
            if dlq and dlq[0] > 0:
                text = f"{dlq[0]} dead letters for {entry.name} (tocsin dlq list --consumer ...)"
                (report.problems if fail_on_dlq else report.warnings).append(text)
    async with database(settings) as db:
        await ensure_event_store(db)
        report.pending_events, report.oldest_pending_s, report.newest_position = await relay_lag(db)
        urgent, normal = await oldest_waiting(
            db, parse_urgent_priorities(settings.relay_urgent_priorities)
        )
        report.lane_oldest_s = {"urgent": urgent, "normal": normal}
        partitions = await recorded_partitions(db)
        if partitions > 1:
            holders = await partition_holders(db, partitions)
            report.partitions = [
                PartitionRow(p, holders.get(p), pending, age)
                for p, pending, age in await pending_by_partition(db, partitions)
            ]
            for lane in report.partitions:
                if lane.holder is None and lane.pending:
                    report.problems.append(
                        f"relay partition {lane.partition}: {lane.pending} events and no relay"
                    )
    if report.oldest_pending_s is not None and report.oldest_pending_s > max_relay_lag_s:
        report.problems.append(
            f"relay lag: {report.pending_events} events unpublished, oldest "
            f"{report.oldest_pending_s:.0f}s old (limit {max_relay_lag_s:.0f}s)"
        )
    async with httpx.AsyncClient(timeout=3.0) as client:
        sockets, ready = await asyncio.gather(
            asyncio.gather(*(_sockets(client, url) for url in realtime_urls)),
            asyncio.gather(*(_ready(client, url) for url in service_urls.values())),
        )
    report.sockets = {url: count for url, (count, _) in zip(realtime_urls, sockets, strict=True)}
    online = [users for _, users in sockets if users is not None]
    report.online_users = max(online) if online else None
    report.readiness = dict(zip(service_urls, ready, strict=True))
    for name, state in report.readiness.items():
        if state != "ready":
            report.problems.append(f"{name} is not ready: {state}")
    return report


async def _sockets(client: httpx.AsyncClient, base_url: str) -> tuple[int | None, int | None]:
    """The instance's open sockets and the cluster-wide online users it last saw."""
    try:
        response = await client.get(f"{base_url}/metrics")
        response.raise_for_status()
    except httpx.HTTPError:
        return None, None
    values = parse_metrics(response.text)
    found = [
        v
        for k, v in values.items()
        if k == REALTIME_CONNECTIONS_METRIC or k.startswith(REALTIME_CONNECTIONS_METRIC + "{")
    ]
    online = values.get(PRESENCE_ONLINE_METRIC)
    return (int(sum(found)) if found else None), (None if online is None else int(online))


async def _ready(client: httpx.AsyncClient, base_url: str) -> str:
    try:
        response = await client.get(f"{base_url}/readyz")
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ready" if response.status_code == 200 else f"HTTP {response.status_code}"
