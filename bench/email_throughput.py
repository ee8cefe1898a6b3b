"""Emails per second one email consumer sustains against a local SMTP server, and its memory.

    python -m bench.email_throughput [--events 1500] [--connections 1,4,8]

For each SMTP_CONNECTIONS value: creates a fresh database, starts `python -m services.email`
as a real process against an SMTP server that accepts and discards every message (aiosmtpd,
in this process, on its own thread), publishes `--events` notification.created events to
the events exchange with confirms, and measures the time from the first publish until the
SMTP server has accepted the last email. Also reports the consumer's resident memory when
idle (after start-up) and after the batch. Prints one table. Not a test: numbers depend on
the machine (and on whatever else runs on it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import aio_pika
from aiosmtpd.controller import Controller

from bench.harness import (
    clean_broker,
    free_port,
    measure_batch,
    notification_created,
    scratch_database,
    wait_healthy,
)
from contracts.events import EventEnvelope
from contracts.notifications import Channel, Recipient
from contracts.topology import Topology
from messaging.topology import consumer_queue_names
from services.email.migrations import upgrade


@dataclass
class Result:
    connections: int
    events: int
    seconds: float
    rss_idle_mb: float
    rss_after_mb: float
    cpu_ms_per_email: float

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class CountingSmtp:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 OK"


def created(index: int) -> EventEnvelope:
    user = f"bench-{index % 200}"
    recipient = Recipient(user_id=user, email=f"{user}@bench.test", name="Bench User")
    return notification_created(index, recipient, Channel.EMAIL, seq=1)


async def run_one(
    connections: int,
    events: int,
    database_server: str,
    amqp_url: str,
    smtp: CountingSmtp,
    smtp_port: int,
) -> Result:
    topology = Topology(f"bench-email-{uuid.uuid4().hex[:8]}")
    async with scratch_database(database_server, "tocsin_bench_email") as database_url:
        await asyncio.to_thread(upgrade, database_url)
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.email",
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "AMQP_URL": amqp_url,
                "TOCSIN_NAMESPACE": topology.namespace,
                "PORT": str(port),
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp_port),
                "SMTP_CONNECTIONS": str(connections),
                "UNSUBSCRIBE_SECRET": uuid.uuid4().hex,
                "PREFETCH": str(max(16, connections * 4)),
                "DB_POOL_SIZE": str(connections + 2),
                "LOG_LEVEL": "WARNING",
            },
        )
        connection = await aio_pika.connect_robust(amqp_url)
        try:
            await wait_healthy(
                f"http://127.0.0.1:{port}/readyz",
                lambda: process.returncode is not None,
                "email consumer",
            )
            batch = [created(i) for i in range(events)]
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(topology.events_exchange)
            run = await measure_batch(
                process.pid, exchange, batch, lambda: smtp.count, events, 300, "emails"
            )
        finally:
            process.terminate()
            await process.wait()
            await connection.close()
            await clean_broker(
                amqp_url,
                topology,
                consumer_queue_names(topology, "email", (1_000, 5_000, 30_000, 300_000, 1_800_000)),
            )
    return Result(
        connections,
        events,
        run.seconds,
        run.rss_idle_mb,
        run.rss_after_mb,
        run.cpu_s * 1000 / events,
    )


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--connections", default="1,4,8")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    args = parser.parse_args(argv)
    smtp = CountingSmtp()
    smtp_port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        results = [
            await run_one(int(c), args.events, args.database_url, args.amqp_url, smtp, smtp_port)
            for c in args.connections.split(",")
        ]
    finally:
        controller.stop()
    print(f"\nemail consumer, one process, {args.events} events per run, local SMTP server")
    print(
        f"{'SMTP connections':>16} | {'emails/s':>9} | {'seconds':>8} | {'RSS idle MB':>11} | "
        f"{'RSS after MB':>12} | {'consumer CPU ms/email':>21}"
    )
    print(f"{'-' * 16}-+-{'-' * 9}-+-{'-' * 8}-+-{'-' * 11}-+-{'-' * 12}-+-{'-' * 21}")
    for r in results:
        print(
            f"{r.connections:>16} | {r.per_s:>9.0f} | {r.seconds:>8.2f} | "
            f"{r.rss_idle_mb:>11.1f} | {r.rss_after_mb:>12.1f} | {r.cpu_ms_per_email:>21.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
