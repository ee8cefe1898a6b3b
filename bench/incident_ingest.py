"""Incident events/s ingested end to end: published on the incidents exchange → notifications
committed → `notification.created` on the events exchange.

python -m bench.incident_ingest [--events 1000] [--workers 1]

Starts the notification service as a real process (its own database and broker namespace,
both removed at the end), publishes incident events with the IncidentPublisher (confirms,
pipelined), and waits for every `notification.created` on a queue bound to the events
exchange. Latency is per incident event: publish start → its last `notification.created`.
"committed/s" polls the processed-events table to tell ingestion apart from the relay.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
import asyncpg
import orjson

from bench.harness import (
    clean_broker,
    free_port,
    scratch_database,
    start_notification_service,
    stop_process,
    wait_healthy,
)
from contracts.incidents import Incident, IncidentCreated, IncidentEvent, Person, Severity
from contracts.topology import Topology
from messaging.incidents import IncidentPublisher
from messaging.topology import consumer_queue_names, declare_consumer, declare_events_exchange
from services.notification.incidents import consumer_spec
from services.notification.migrations import upgrade

DATABASE_SERVER = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tocsin")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PIPELINE = 200


@dataclass
class Row:
    scenario: str
    events: int
    notifications: int
    seconds: float
    committed_s: float
    p50_ms: float
    p99_ms: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def committed_per_s(self) -> float:
        return self.events / self.committed_s

    @property
    def notifications_per_s(self) -> float:
        return self.notifications / self.seconds


def events(count: int, recipients: int) -> list[IncidentEvent]:
    run = uuid.uuid4().hex[:6]
    actor = Person(id=f"bench-actor-{run}")
    made: list[IncidentEvent] = []
    for i in range(count):
        incident_id = f"bench-{run}-{i}"
        made.append(
            IncidentCreated(
                event_id=str(uuid.uuid4()),
                occurred_at=datetime.now(UTC),
                incident=Incident(
                    id=incident_id,
                    key=f"INC-2024-{i:04d}",
                    title="Bench incident",
                    severity=Severity.SEV2,
                    status="open",
                    url=f"/incidents/{incident_id}",
                ),
                actor=actor,
                watchers=[
                    actor,
                    *(Person(id=f"bench-{run}-u{(i + k) % 500}") for k in range(recipients)),
                ],
            )
        )
    return made


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def committed_after(database_url: str, target: int, t0: float) -> float:
    """Seconds from t0 until `target` incident events are recorded as ingested (polled)."""
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            done = await conn.fetchval(
                "SELECT count(*) FROM notification.processed_incident_events"
            )
            if done >= target:
                return time.perf_counter() - t0
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def run_scenario(
    name: str,
    topology: Topology,
    database_url: str,
    count: int,
    recipients: int,
    probe: aio_pika.abc.AbstractQueue,
) -> Row:
    batch = events(count, recipients)
    expected = {e.incident.id: recipients for e in batch}
    started: dict[str, float] = {}
    finished: dict[str, float] = {}
    done = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        data = orjson.loads(message.body)["data"]["notification"]
        incident_id = data.get("entity_id")
        if incident_id in expected:
            expected[incident_id] -= 1
            if expected[incident_id] == 0:
                finished[incident_id] = time.perf_counter()
                if len(finished) == count:
                    done.set()

    tag = await probe.consume(on_message, no_ack=True)
    async with IncidentPublisher(AMQP_URL, namespace=topology.namespace) as publisher:
        async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
            already = await pool.fetchval(
                "SELECT count(*) FROM notification.processed_incident_events"
            )
        t0 = time.perf_counter()
        committed = asyncio.create_task(committed_after(database_url, already + count, t0))
        for start in range(0, count, PIPELINE):
            chunk = batch[start : start + PIPELINE]
            for event in chunk:
                started[event.incident.id] = time.perf_counter()
            await asyncio.gather(*(publisher.publish(e) for e in chunk))
        await asyncio.wait_for(done.wait(), timeout=300)
        elapsed = time.perf_counter() - t0
        committed_s = await committed
    await probe.cancel(tag)
    latencies = [(finished[i] - started[i]) * 1000 for i in finished]
    return Row(
        name,
        count,
        count * recipients,
        elapsed,
        committed_s,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
    )


async def bench(count: int, workers: int) -> list[Row]:
    topology = Topology(f"tocsin-bench-{uuid.uuid4().hex[:8]}")
    spec = consumer_spec(topology)
    probe_name = f"{topology.namespace}.probe"
    async with scratch_database(DATABASE_SERVER, "tocsin_bench") as database_url:
        connection = await aio_pika.connect_robust(AMQP_URL)
        channel = await connection.channel()
        process: subprocess.Popen[bytes] | None = None
        try:
            await asyncio.to_thread(upgrade, database_url)
            exchange = await declare_events_exchange(channel, topology)
            await channel.declare_exchange(
                topology.incidents_exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            await declare_consumer(channel, topology, spec)
            probe = await channel.declare_queue(probe_name)
            await probe.bind(exchange, "notification.created.*")
            port = free_port()
            process = start_notification_service(
                database_url,
                AMQP_URL,
                topology,
                port,
                workers,
                quiet=True,
                RELAY_POLL_INTERVAL_S="0.2",
                DELIVERIES_ENABLED="false",
            )
            started = process
            await wait_healthy(
                f"http://127.0.0.1:{port}/healthz",
                lambda: started.poll() is not None,
                "notification service",
            )
            rows = [
                await run_scenario("warm-up", topology, database_url, min(100, count), 1, probe)
            ]
            rows.append(
                await run_scenario("1 recipient / event", topology, database_url, count, 1, probe)
            )
            rows.append(
                await run_scenario(
                    "10 recipients / event", topology, database_url, count, 10, probe
                )
            )
            return rows[1:]
        finally:
            if process is not None:
                stop_process(process)
            await connection.close()
            queues = [probe_name, *consumer_queue_names(topology, spec.name, spec.retry_delays_ms)]
            await clean_broker(AMQP_URL, topology, queues)


def print_table(rows: list[Row], workers: int) -> None:
    print(f"incident ingest (notification service: {workers} worker process(es))")
    print("committed: events/s until every event's notifications were committed;")
    print("end to end: events/s until every notification.created was received.")
    header = (
        f"{'scenario':<24}{'events':>8}{'notifs':>8}{'committed/s':>13}"
        f"{'end-to-end/s':>14}{'notifs/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.scenario:<24}{r.events:>8}{r.notifications:>8}{r.committed_per_s:>13.0f}"
            f"{r.events_per_s:>14.0f}{r.notifications_per_s:>10.0f}"
            f"{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    print_table(asyncio.run(bench(args.events, args.workers)), args.workers)


if __name__ == "__main__":
    main()
