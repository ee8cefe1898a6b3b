"""Create throughput and create→broker latency of the notification service.

    python -m bench.notification_throughput [--workers 1,2] [--seconds 6]

For each worker count: starts the service as a real process (uvicorn, uvloop, httptools) on a
fresh database, then measures
  * single-recipient creates/s (64 concurrent keep-alive connections),
  * notifications/s in 100-recipient requests (8 concurrent connections),
  * create→broker latency p50/p99: time from the start of a request to the arrival of its
    `notification.created` on a queue bound to the events exchange (one request at a time,
    after the load, on an emptied queue), and beside it the p50 of the request alone (start
    to its 201), the part of that latency the relay has no say in. The requests rotate over
    several connections: with several workers each connection is served by one of them, and
    only one holds the relay, so both wake-up paths (in-process, NOTIFY) are sampled,
  * how long the relay needed after the load to publish the backlog it left, and its rate,
  * errors: creates answered with anything but 201, and latency samples whose event did not
    reach the queue within 5 s (they are left out of the percentiles, so they are counted).
Prints one table. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass

import aio_pika
import asyncpg
import orjson

from bench.harness import (
    BENCH_JWT_SECRET,
    clean_broker,
    free_port,
    scratch_database,
    start_notification_service,
    stop_process,
    wait_healthy,
)
from bench.notification_http import KeepAliveConnection
from contracts.topology import Topology, binding_for_type
from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE
from services.notification.migrations import upgrade

PATH = "/api/v1/notifications"


@dataclass
class Result:
    workers: int
    single_per_s: float
    batch_per_s: float
    request_p50_ms: float
    p50_ms: float
    p99_ms: float
    drain_s: float
    relay_per_s: float
    errors: int


async def _load(
    port: int, token: str, connections: int, seconds: float, recipients: int
) -> tuple[int, int]:
    """Requests done and errors, with `connections` connections sending back to back."""
    deadline = time.perf_counter() + seconds
    done = errors = 0

    async def worker() -> None:
        nonlocal done, errors
        conn = await KeepAliveConnection("127.0.0.1", port, token).open()
        try:
            while time.perf_counter() < deadline:
                body = {
                    "recipients": [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(recipients)],
                    "type": "incident_created",
                    "priority": "normal",
                    "title": "Benchmark",
                    "message": "Incident INC-1 has been created",
                }
                status, _ = await conn.post_json(PATH, body)
                if status == 201:
                    done += 1
                else:
                    errors += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return done, errors


async def _latency(
    port: int, token: str, queue: aio_pika.abc.AbstractQueue, samples: int, connections: int = 8
) -> tuple[list[float], list[float], int]:
    """Per request, one at a time: milliseconds from its start to its 201, and from its start
    to the arrival of its event; and how many requests failed or whose event did not arrive
    within 5 s. The queue is emptied first: the load left messages in it."""
    await queue.purge()
    arrivals: dict[str, float] = {}
    waiting: dict[str, asyncio.Event] = {}

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        user = orjson.loads(message.body)["user_id"]
        arrivals[user] = time.perf_counter()
        if user in waiting:
            waiting[user].set()

    tag = await queue.consume(on_message, no_ack=True)
    conns = [await KeepAliveConnection("127.0.0.1", port, token).open() for _ in range(connections)]
    requests: list[float] = []
    latencies: list[float] = []
    errors = 0
    try:
        for i in range(samples):
            user = f"latency-{uuid.uuid4().hex[:10]}"
            waiting[user] = asyncio.Event()
            started = time.perf_counter()
            status, _ = await conns[i % connections].post_json(
                PATH, {"recipients": [user], "type": "incident_created", "title": "Latency"}
            )
            if status != 201:
                errors += 1
                continue
            requests.append((time.perf_counter() - started) * 1000)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await waiting[user].wait()
            if user in arrivals:
                latencies.append((arrivals[user] - started) * 1000)
            else:
                errors += 1
    finally:
        for conn in conns:
            await conn.close()
        await queue.cancel(tag)
    return requests, latencies, errors


async def _drain(database_url: str) -> tuple[float, int]:
    """Seconds the relay needed to publish the backlog left by the load, and that backlog."""
    conn = await asyncpg.connect(database_url)
    query = "SELECT count(*) FROM notification.events WHERE position IS NULL"
    started = time.perf_counter()
    try:
        backlog = int(await conn.fetchval(query))
        while await conn.fetchval(query):  # noqa: ASYNC110 - polling another process's progress
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return time.perf_counter() - started, backlog


async def run_one(server_url: str, amqp_url: str, workers: int, seconds: float) -> Result:
    topology = Topology(f"tocsin-bench-{uuid.uuid4().hex[:8]}")
    port = free_port()
    async with scratch_database(server_url, "tocsin_bench") as database_url:
        broker = await aio_pika.connect(amqp_url)
        process: subprocess.Popen[bytes] | None = None
        try:
            await asyncio.to_thread(upgrade, database_url)
            channel = await broker.channel()
            exchange = await channel.declare_exchange(
                topology.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            sink = await channel.declare_queue(
                f"{topology.namespace}.sink", arguments={"x-max-length": 1000}, auto_delete=True
            )
            await sink.bind(exchange, binding_for_type("notification.created"))
            process = start_notification_service(
                database_url,
                amqp_url,
                topology,
                port,
                workers,
                INCIDENTS_ENABLED="false",
                DELIVERIES_ENABLED="false",
            )
            started = process
            await wait_healthy(
                f"http://127.0.0.1:{port}/readyz", lambda: started.poll() is not None, "service"
            )
            token = mint_token(JwtSettings(secret=BENCH_JWT_SECRET), "bench", scopes=[WRITE_SCOPE])
            await _load(port, token, 8, 1.0, 1)  # warm up pools and caches
            single, e1 = await _load(port, token, 64, seconds, 1)
            batch, e2 = await _load(port, token, 8, seconds, 100)
            drain, backlog = await _drain(database_url)
            requests, latencies, e3 = await _latency(port, token, sink, 300)
        finally:
            if process is not None:
                stop_process(process)
            await broker.close()
            await clean_broker(amqp_url, topology, [f"{topology.namespace}.sink"])
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Result(
        workers=workers,
        single_per_s=single / seconds,
        batch_per_s=batch * 100 / seconds,
        request_p50_ms=statistics.median(requests) if requests else float("nan"),
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=quantiles[98],
        drain_s=drain,
        relay_per_s=backlog / drain if backlog and drain > 0.1 else float("nan"),
        errors=e1 + e2 + e3,
    )


def print_table(results: list[Result]) -> None:
    header = (
        f"{'workers':>7} | {'1-recipient creates/s':>21} | {'notifications/s (x100)':>22} | "
        f"{'request->201 p50':>16} | {'create->broker p50':>18} | {'p99':>8} | "
        f"{'relay catch-up':>14} | "
        f"{'relay events/s':>14} | {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.workers:>7} | {r.single_per_s:>21,.0f} | {r.batch_per_s:>22,.0f} | "
            f"{r.request_p50_ms:>13.2f} ms | {r.p50_ms:>15.2f} ms | {r.p99_ms:>5.2f} ms | "
            f"{r.drain_s:>12.2f} s | {r.relay_per_s:>14,.0f} | {r.errors:>6}"
        )


async def main(args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at start "
        "(other work on the machine lowers every number below)"
    )
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        results.append(await run_one(args.database_url, args.amqp_url, workers, args.seconds))
    print_table(results)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.notification_throughput")
    parser.add_argument("--workers", default="1,2", help="comma list of uvicorn worker counts")
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each load phase")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="server URL; a fresh database is created on it and dropped after",
    )
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parse()))
