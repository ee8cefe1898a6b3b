"""Webhook deliveries per second one webhook consumer sustains against a local HTTP receiver,
and its memory.

    python -m bench.webhook_throughput [--events 1000] [--concurrency 1,8,32] [--endpoints 1]

For each WEBHOOK_MAX_CONCURRENCY value: creates a fresh database, starts
`python -m services.webhook` as a real process, registers `--endpoints` endpoints for one
user through its API, starts a receiver (uvicorn, in this process, on its own thread) that
answers 204 to every POST, publishes `--events` notification.created events to the events
exchange with confirms, and measures the time from the first publish until the receiver has
seen every delivery. Each delivery is signed, locked, attempted and recorded in Postgres, and
its outcome event published with confirms, as in production. Reports the consumer's resident
memory idle and after the batch, and its CPU per delivery. Not a test: numbers depend on the
machine (and on whatever else runs on it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import uvicorn

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
from identity import JwtSettings, mint_token
from messaging.topology import consumer_queue_names
from services.webhook.migrations import upgrade
from services.webhook.settings import DEFAULT_RETRY_DELAYS_MS

JWT_SECRET = "bench-webhook-secret"
USER = "bench-webhook-user"


@dataclass
class Result:
    concurrency: int
    deliveries: int
    seconds: float
    rss_idle_mb: float
    rss_after_mb: float
    cpu_ms_per_delivery: float

    @property
    def per_s(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


class CountingReceiver:
    """A minimal ASGI app that answers 204 to every request and counts them."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        with self.lock:
            self.count += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def start_receiver(app: CountingReceiver, port: int) -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server


def created(index: int) -> EventEnvelope:
    return notification_created(index, Recipient(user_id=USER), Channel.WEBHOOK, seq=index + 1)


async def run_one(
    concurrency: int,
    events: int,
    endpoints: int,
    database_server: str,
    amqp_url: str,
    receiver: CountingReceiver,
    receiver_port: int,
) -> Result:
    topology = Topology(f"bench-webhook-{uuid.uuid4().hex[:8]}")
    async with scratch_database(database_server, "tocsin_bench_webhook") as database_url:
        await asyncio.to_thread(upgrade, database_url)
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.webhook",
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "AMQP_URL": amqp_url,
                "TOCSIN_NAMESPACE": topology.namespace,
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "TOCSIN_ENV": "test",  # a short, known secret is fine off production
                "JWT_SECRET": JWT_SECRET,
                "WEBHOOK_ALLOWED_PRIVATE_TARGETS": f"127.0.0.1:{receiver_port}",
                "WEBHOOK_ENDPOINT_RATE_PER_S": "0",  # the consumer's own throughput
                "WEBHOOK_MAX_CONCURRENCY": str(concurrency),
                "WEBHOOK_PREFETCH": str(max(16, concurrency * 2)),
                "LOG_LEVEL": "WARNING",
            },
        )
        connection = await aio_pika.connect_robust(amqp_url)
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_healthy(
                f"{base}/readyz", lambda: process.returncode is not None, "webhook consumer"
            )
            token = mint_token(JwtSettings(secret=JWT_SECRET), USER)
            async with httpx.AsyncClient(base_url=base) as api:
                for index in range(endpoints):
                    response = await api.post(
                        "/api/v1/webhooks/endpoints",
                        json={"url": f"http://127.0.0.1:{receiver_port}/hook/{index}"},
                        headers={"authorization": f"Bearer {token}"},
                    )
                    response.raise_for_status()
            batch = [created(i) for i in range(events)]
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(topology.events_exchange)
            expected = events * endpoints
            run = await measure_batch(
                process.pid, exchange, batch, lambda: receiver.count, expected, 600, "deliveries"
            )
        finally:
            process.terminate()
            await process.wait()
            await connection.close()
            await clean_broker(
                amqp_url,
                topology,
                consumer_queue_names(topology, "webhook", DEFAULT_RETRY_DELAYS_MS),
            )
    return Result(
        concurrency,
        expected,
        run.seconds,
        run.rss_idle_mb,
        run.rss_after_mb,
        run.cpu_s * 1000 / expected,
    )


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--endpoints", type=int, default=1)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    args = parser.parse_args(argv)
    receiver = CountingReceiver()
    receiver_port = free_port()
    server = start_receiver(receiver, receiver_port)
    try:
        results = [
            await run_one(
                int(c),
                args.events,
                args.endpoints,
                args.database_url,
                args.amqp_url,
                receiver,
                receiver_port,
            )
            for c in args.concurrency.split(",")
        ]
    finally:
        server.should_exit = True
    print(
        f"\nwebhook consumer, one process, {args.events} events x {args.endpoints} endpoint(s) "
        "per run, local HTTP receiver"
    )
    print(
        f"{'max concurrency':>15} | {'deliveries/s':>12} | {'seconds':>8} | {'RSS idle MB':>11} | "
        f"{'RSS after MB':>12} | {'consumer CPU ms/delivery':>24}"
    )
    print(f"{'-' * 15}-+-{'-' * 12}-+-{'-' * 8}-+-{'-' * 11}-+-{'-' * 12}-+-{'-' * 24}")
    for r in results:
        print(
            f"{r.concurrency:>15} | {r.per_s:>12.0f} | {r.seconds:>8.2f} | "
            f"{r.rss_idle_mb:>11.1f} | {r.rss_after_mb:>12.1f} | {r.cpu_ms_per_delivery:>24.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
