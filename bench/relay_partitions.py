"""Relay throughput with P partitions: how many events a second P relay processes publish,
with publisher confirms, from a backlog in the event store.

For each P (1, 2, 4 by default): a scratch database, P relay processes
(`python -m services.notification relay`, RELAY_PARTITIONS=P, one partition each), one
durable quorum queue bound to every event (as a consumer kind's queue is). Once every
partition has its relay, EVENTS events for USERS users are committed in one statement, and
the clock runs until the last is published. CPU is the relays' own, per event.

    python -m bench.relay_partitions [--events 20000] [--users 2000] [--partitions 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from dataclasses import dataclass

import aio_pika
import asyncpg

from bench.harness import clean_broker, cpu_s, scratch_database, start_relay_process, stop_process
from contracts.topology import Topology
from database.engine import plain_url
from database.partitions import partition_holders
from messaging.topology import declare_events_exchange
from services.notification.migrations import upgrade
from tests.support.backlog import insert_backlog
from tests.support.infra import locate_postgres, locate_rabbitmq, unique_namespace


@dataclass
class Run:
    partitions: int
    events: int
    seconds: float
    cpu_ms_per_event: float

    @property
    def per_s(self) -> float:
        return self.events / self.seconds


async def one_run(server_url: str, amqp_url: str, partitions: int, events: int, users: int) -> Run:
    topology = Topology(unique_namespace())
    sink = f"{topology.namespace}.bench-sink"
    async with scratch_database(server_url, "tocsin_bench_relay") as database_url:
        await asyncio.to_thread(upgrade, database_url)
        connection = await aio_pika.connect(amqp_url)
        relays: list[subprocess.Popen[bytes]] = []
        try:
            channel = await connection.channel()
            exchange = await declare_events_exchange(channel, topology)
            queue = await channel.declare_queue(
                sink, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await queue.bind(exchange, "#")
            conn = await asyncpg.connect(plain_url(database_url))
            try:
                relays = [
                    start_relay_process(
                        database_url,
                        amqp_url,
                        topology.namespace,
                        RELAY_PARTITIONS=str(partitions),
                        RELAY_MAX_PARTITIONS="1",
                        RELAY_BATCH_SIZE="500",
                    )
                    for _ in range(partitions)
                ]
                while len(await partition_holders(conn, partitions)) < partitions:  # noqa: ASYNC110 - other processes
                    await asyncio.sleep(0.1)
                cpu_before = sum(cpu_s(r.pid) for r in relays)
                await insert_backlog(conn, events, users, "bench-user-", priority="high")
                start = time.perf_counter()
                while await conn.fetchval(  # noqa: ASYNC110 - polling the store
                    "SELECT EXISTS (SELECT 1 FROM notification.events WHERE position IS NULL)"
                ):
                    await asyncio.sleep(0.02)
                seconds = time.perf_counter() - start
                cpu = sum(cpu_s(r.pid) for r in relays) - cpu_before
            finally:
                await conn.close()
        finally:
            for relay in relays:
                stop_process(relay)
            await connection.close()
            await clean_broker(amqp_url, topology, [sink])
    return Run(partitions, events, seconds, cpu * 1000 / events)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_partitions")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--partitions", default="1,2,4")
    args = parser.parse_args()
    server_url, amqp_url = locate_postgres(), locate_rabbitmq()
    runs = [
        await one_run(server_url, amqp_url, int(p), args.events, args.users)
        for p in args.partitions.split(",")
    ]
    cores = os.cpu_count()
    print(f"\nrelay throughput, {args.events:,} events of {args.users:,} users, {cores} cores")
    print(f"{'partitions':>10} | {'processes':>9} | {'seconds':>8} | {'events/s':>9} | "
          f"{'vs P=1':>6} | {'relay CPU/event':>15}")  # fmt: skip
    base = runs[0].per_s
    for run in runs:
        print(
            f"{run.partitions:>10} | {run.partitions:>9} | {run.seconds:>8.2f} | "
            f"{run.per_s:>9,.0f} | {run.per_s / base:>5.2f}x | {run.cpu_ms_per_event:>12.3f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
