"""How long a critical notification waits behind a backlog: from committing it until it
reaches a queue bound to the events exchange, with BACKLOG ordinary events waiting in the
relay, with the urgent lane (RELAY_URGENT_PRIORITIES=critical) and without it (empty: every
event in insertion order, the relay before the lane).

For each mode: a scratch database, one relay process, a durable quorum queue bound to every
event (as a consumer kind's queue is) and a probe queue bound to each sample's user. Before
each sample the backlog is topped up to BACKLOG unpublished events (one statement); then one
critical `notification.created` is committed and the clock runs until it is on the probe.

    python -m bench.urgent_lane [--backlog 100000] [--samples 20] [--before-samples 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time

import aio_pika
import asyncpg

from bench.harness import clean_broker, scratch_database, start_relay_process, stop_process
from contracts.topology import Topology, binding_for_user
from database.engine import plain_url
from messaging.topology import declare_events_exchange
from services.notification.migrations import upgrade
from tests.support.backlog import insert_backlog, unpublished
from tests.support.infra import locate_postgres, locate_rabbitmq, unique_namespace


async def samples(
    server_url: str, amqp_url: str, urgent: str, backlog: int, count: int
) -> list[float]:
    """Seconds from commit to the probe queue, one per sample."""
    topology = Topology(unique_namespace())
    sink, probe_name = f"{topology.namespace}.bench-sink", f"{topology.namespace}.probe"
    async with scratch_database(server_url, "tocsin_bench_urgent") as database_url:
        await asyncio.to_thread(upgrade, database_url)
        connection = await aio_pika.connect(amqp_url)
        relay: subprocess.Popen[bytes] | None = None
        try:
            channel = await connection.channel()
            exchange = await declare_events_exchange(channel, topology)
            queue = await channel.declare_queue(
                sink, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await queue.bind(exchange, "#")
            probe = await channel.declare_queue(probe_name, auto_delete=False)
            conn = await asyncpg.connect(plain_url(database_url))
            relay = start_relay_process(
                database_url, amqp_url, topology.namespace, RELAY_URGENT_PRIORITIES=urgent
            )
            waited: list[float] = []
            try:
                for i in range(count):
                    await insert_backlog(conn, backlog - await unpublished(conn), 2000,
                                         f"bench-{i}-")  # fmt: skip
                    prefix = f"bench-critical-{i}-"
                    # insert_backlog names its users <prefix><index>: this one is <prefix>0.
                    await probe.bind(exchange, binding_for_user(f"{prefix}0"))
                    start = time.perf_counter()
                    await insert_backlog(conn, 1, 1, prefix, "critical")
                    while await probe.get(no_ack=True, fail=False) is None:  # noqa: ASYNC110
                        await asyncio.sleep(0.001)
                    waited.append(time.perf_counter() - start)
                    await queue.purge()
            finally:
                await conn.close()
        finally:
            if relay is not None:
                stop_process(relay)
            await connection.close()
            await clean_broker(amqp_url, topology, [sink, probe_name])
    return waited


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.urgent_lane")
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument(
        "--before-samples", type=int, default=5, help="without the lane each one drains all"
    )
    args = parser.parse_args()
    server_url, amqp_url = locate_postgres(), locate_rabbitmq()
    runs = [
        ("urgent lane (critical)", await samples(server_url, amqp_url, "critical",
                                                 args.backlog, args.samples)),
        ("no lane (before)", await samples(server_url, amqp_url, "", args.backlog,
                                           args.before_samples)),
    ]  # fmt: skip
    print(f"\ncritical notification, commit → queue, behind {args.backlog:,} ordinary events")
    print(f"{'relay':>24} | {'samples':>7} | {'p50':>10} | {'p99':>10} | {'mean':>10}")
    for name, waited in runs:
        print(
            f"{name:>24} | {len(waited):>7} | {_ms(waited, 0.5):>7.1f} ms | "
            f"{_ms(waited, 0.99):>7.1f} ms | {statistics.mean(waited) * 1000:>7.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
