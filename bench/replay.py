"""How fast `tocsin replay` re-drives events from the event store to one consumer's queue.

    python -m bench.replay [--events 2000,20000]

For each size: creates a fresh database (notification migrations only), writes that many
published `notification.created` events, declares a namespace of its own with the email
consumer's queues, and times the CLI's replay (read in position order, publish to the queue
with confirms). Also times `tocsin status`'s collection and a `dlq list` of 1,000 dead
letters. Everything it creates is removed. Prints one table. Not a test: numbers depend on
the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import aio_pika
import asyncpg

from bench.harness import clean_broker, scratch_database
from contracts.events import EventType
from contracts.topology import Topology
from messaging.topology import consumer_queue_names, declare_all
from services.notification.migrations import upgrade
from tocsin_cli import dlq, registry, replay, status
from tocsin_cli.eventstore import EventFilter
from tocsin_cli.settings import CliSettings

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"


async def _fill(url: str, count: int) -> None:
    connection = await asyncpg.connect(url)
    now = datetime.now(UTC)
    rows = [
        (
            str(uuid.uuid4()),
            EventType.NOTIFICATION_CREATED.value,
            "1.0",
            now,
            f"user-{i % 500}",
            i // 500 + 1,
            json.dumps({"n": i}),
            i + 1,
            now,
        )
        for i in range(count)
    ]
    await connection.copy_records_to_table(
        "events",
        schema_name="notification",
        records=rows,
        columns=[
            "event_id", "type", "schema_version", "occurred_at", "user_id", "seq", "data",
            "position", "published_at",
        ],
    )  # fmt: skip
    await connection.close()


async def run_size(count: int) -> list[tuple[str, int, float]]:
    async with scratch_database(SERVER, "tocsin_bench") as url:
        return await _measure(url, count)


async def _measure(url: str, count: int) -> list[tuple[str, int, float]]:
    topology = Topology(f"tocsin-bench-{uuid.uuid4().hex[:8]}")
    spec = registry.consumer_spec("email", topology)
    names = consumer_queue_names(topology, "email", spec.retry_delays_ms)
    rows: list[tuple[str, int, float]] = []
    try:
        await asyncio.to_thread(upgrade, url)
        await _fill(url, count)
        settings = CliSettings(
            database_url=url,
            amqp_url=AMQP,
            tocsin_namespace=topology.namespace,
            tocsin_service_urls="",
            tocsin_realtime_urls="",
        )
        connection = await aio_pika.connect(AMQP)
        channel = await connection.channel()
        await declare_all(channel, topology, [spec])
        await connection.close()

        started = time.perf_counter()
        summary = await replay.replay(settings, "email", EventFilter(from_position=1))
        rows.append(("replay → email queue", summary.published, time.perf_counter() - started))

        started = time.perf_counter()
        await status.collect(settings, service_urls={}, realtime_urls=[], max_relay_lag_s=30)
        rows.append(("status (queues + relay lag)", 1, time.perf_counter() - started))

        connection = await aio_pika.connect(AMQP)
        channel = await connection.channel()
        queue = await channel.declare_queue(topology.queue("email"), passive=True)
        await queue.purge()
        publisher = await connection.channel(publisher_confirms=True)
        for i in range(1000):
            await publisher.default_exchange.publish(
                aio_pika.Message(b"{}", message_id=str(i), headers={"x-tocsin-reason": "b"}),
                topology.dead_letter_queue("email"),
            )
        await connection.close()
        started = time.perf_counter()
        letters = await dlq.list_dead_letters(settings, "email")
        rows.append(("dlq list", len(letters), time.perf_counter() - started))
    finally:
        await clean_broker(AMQP, topology, names)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", default="2000,20000", help="comma-separated sizes")
    args = parser.parse_args()
    print(f"{'operation':<30} {'items':>8} {'seconds':>9} {'items/s':>10}")
    for size in (int(s) for s in args.events.split(",")):
        for label, items, seconds in asyncio.run(run_size(size)):
            rate = items / seconds if seconds > 0 else 0.0
            print(f"{label:<30} {items:>8} {seconds:>9.3f} {rate:>10.0f}")


if __name__ == "__main__":
    main()
