"""Realtime delivery with 1 and with 2 instances on this machine: how the tier scales out.

python -m bench.realtime_instances [--sockets 10000] [--events 50000] [--instances 1,2]
                                   [--workers-per-instance 2] [--broadcasts 5]

For each instance count K, K realtime processes (`python -m services.realtime`, each its own
INSTANCE_ID and port) run beside one notification service on a scratch database, all on the
shared RabbitMQ. The sockets are split evenly over the instances (the gateway's `least_conn`
does the same), each instance's share held by its own load-generator processes
(`bench.realtime_load`). Rows: messages delivered per second with every message for one user's
socket (each instance receives only the messages of the users it holds), and one message to
every socket (every instance receives it once): time until the last socket has it, median of
--broadcasts. Every loop is bounded in count and time and only 127.0.0.1 is targeted.

On 2 cores the load generator, the broker and the instances share the same two cores, so the
ratio K=2 / K=1 is a lower bound of what a second machine adds; docs/scaling.md extrapolates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from dataclasses import dataclass

from bench.harness import (
    add_socket_load_arguments,
    cpu_s,
    prepare_socket_load,
    scratch_database,
    start_notification_service,
    stop_process,
    wait_healthy,
)
from bench.realtime_load import TOCSIN
from bench.realtime_vs_socketio import AMQP_URL, JWT_SECRET, System, Workers
from contracts.topology import Topology
from identity import JwtSettings, mint_token
from services.notification.migrations import upgrade


@dataclass
class Run:
    instances: int
    connected: int = 0
    events_per_s: float = 0.0
    broadcast_ms: float = 0.0
    cpu_ms_per_1000: float = 0.0
    """Realtime processes' CPU per 1,000 delivered messages (all instances together)."""
    notes: list[str] | None = None


async def received(pools: list[Workers]) -> tuple[int, int]:
    counts = [await pool.received() for pool in pools]
    return sum(c for c, _ in counts), max(last for _, last in counts)


async def wait_received(pools: list[Workers], expected: int, timeout: float) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        count, last = await received(pools)
        if count >= expected or time.monotonic() > deadline:
            return count, last
        await asyncio.sleep(0.02)


async def measure(instances: int, args: argparse.Namespace, port: int) -> Run:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    run = Run(instances, notes=[])
    async with scratch_database(args.database_url, "tocsin_bench") as database_url:
        await asyncio.to_thread(upgrade, database_url)
        api_port = port + 100
        api = start_notification_service(
            database_url, AMQP_URL, Topology(namespace), api_port, 1, quiet=True,
            INCIDENTS_ENABLED="false", DELIVERIES_ENABLED="false",
        )  # fmt: skip
        systems: list[System] = []
        pools: list[Workers] = []
        try:
            await wait_healthy(
                f"http://127.0.0.1:{api_port}/readyz", lambda: api.poll() is not None, "api"
            )
            env = {"NOTIFICATION_API_URL": f"http://127.0.0.1:{api_port}"}
            # Each instance draws its own INSTANCE_ID (the setting's default).
            systems = [
                System(TOCSIN, port + i, args.ws_impl, namespace, env) for i in range(instances)
            ]
            for system in systems:
                system.wait_healthy()
            await systems[0].open_publisher()
            pools = [Workers(TOCSIN, s.port, args.workers_per_instance) for s in systems]
            await deliver(run, systems, pools, args)
        finally:
            for pool in pools:
                await pool.close()
            for system in systems:
                await system.close()
            stop_process(api)
    return run


async def deliver(
    run: Run, systems: list[System], pools: list[Workers], args: argparse.Namespace
) -> None:
    jwt = JwtSettings(secret=JWT_SECRET)
    users = [f"bench-k{run.instances}-{i}" for i in range(args.sockets)]
    shares = [users[i :: len(systems)] for i in range(len(systems))]
    for pool, share in zip(pools, shares, strict=True):
        tokens = [mint_token(jwt, user, ttl_s=3600) for user in share]
        chunks = [tokens[i :: len(pool.pipes)] for i in range(len(pool.pipes))]
        replies = await pool.ask_each(
            [("connect", chunk, args.concurrency, args.connect_timeout) for chunk in chunks]
        )
        run.connected += sum(r["ok"] for r in replies)
    await asyncio.sleep(2)
    publisher = systems[0]

    for pool in pools:
        await pool.ask("reset")
    messages = [
        publisher.marshal(
            *publisher.message(users[i % args.sockets], {"id": i, "title": "Disk full on db-1"})
        )
        for i in range(args.events)
    ]
    batches = [b"".join(messages[i : i + 500]) for i in range(0, len(messages), 500)]
    cpu_before = sum(cpu_s(s.process.pid) for s in systems)
    began = time.time_ns()
    for batch in batches:
        await publisher.publish(batch)
    count, last = await wait_received(pools, args.events, args.phase_timeout)
    cpu = sum(cpu_s(s.process.pid) for s in systems) - cpu_before
    run.events_per_s = count / max((last - began) / 1e9, 1e-9)
    run.cpu_ms_per_1000 = cpu * 1e6 / max(count, 1)
    if count < args.events:
        assert run.notes is not None
        run.notes.append(f"K={run.instances}: {count}/{args.events} delivered in the timeout")

    times = []
    for _ in range(args.broadcasts):
        await asyncio.sleep(0.5)
        for pool in pools:
            await pool.ask("reset")
        announcement = publisher.marshal(*publisher.message(None, {"title": "Maintenance"}))
        began = time.time_ns()
        await publisher.publish(announcement)
        count, last = await wait_received(pools, run.connected, args.phase_timeout)
        if count < run.connected:
            assert run.notes is not None
            run.notes.append(f"K={run.instances}: broadcast reached {count}/{run.connected}")
        times.append((last - began) / 1e6)
    run.broadcast_ms = statistics.median(times)


def print_table(runs: list[Run], args: argparse.Namespace) -> None:
    print(
        f"\nsockets={args.sockets} events={args.events} broadcasts={args.broadcasts} "
        f"load generators per instance={args.workers_per_instance} cpus={os.cpu_count()}"
    )
    header = f"{'instances':>10}{'connected':>11}{'events/s':>11}{'vs K=1':>8}"
    header += f"{'broadcast ms':>14}{'CPU ms/1k msgs':>16}"
    print(header)
    print("-" * len(header))
    base = runs[0].events_per_s or 1.0
    for run in runs:
        print(
            f"{run.instances:>10}{run.connected:>11,}{run.events_per_s:>11,.0f}"
            f"{run.events_per_s / base:>7.2f}x{run.broadcast_ms:>14.1f}{run.cpu_ms_per_1000:>16.0f}"
        )
    for run in runs:
        for note in run.notes or []:
            print(f"  note: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="1,2", help="comma-separated instance counts")
    parser.add_argument("--workers-per-instance", type=int, default=2)
    add_socket_load_arguments(parser, port=18401)
    args = parser.parse_args(argv)
    counts = [int(k) for k in args.instances.split(",")]
    if not all(1 <= k <= 8 for k in counts):
        parser.error("--instances: 1..8 instances each")
    prepare_socket_load(parser, args)
    runs = []
    for offset, instances in enumerate(counts):
        print(f"measuring {instances} instance(s) ...", flush=True)
        runs.append(asyncio.run(measure(instances, args, args.port + 10 * offset)))
    print_table(runs, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
