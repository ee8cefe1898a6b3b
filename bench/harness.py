"""What every benchmark needs around the thing it measures: a scratch database, a free port,
a service process reported healthy, its memory and CPU, and the broker left as it was found.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import asyncpg
import httpx

from contracts.events import EventEnvelope
from contracts.notifications import Channel, NotificationData, Priority, Recipient
from contracts.topology import Topology, routing_key
from messaging.publisher import envelope_message
from tests.support.events import created_envelope
from tests.support.infra import free_port, sweep_broker

REPO = Path(__file__).resolve().parents[1]
BENCH_JWT_SECRET = "bench-secret"
MAX_SOCKETS = 20_000
MAX_EVENTS = 1_000_000

__all__ = [
    "BatchRun",
    "add_socket_load_arguments",
    "clean_broker",
    "cpu_s",
    "free_port",
    "measure_batch",
    "notification_created",
    "prepare_socket_load",
    "publish_and_wait",
    "rss_mb",
    "scratch_database",
    "start_notification_service",
    "start_relay_process",
    "stop_process",
    "wait_healthy",
    "with_database",
]


def add_socket_load_arguments(parser: argparse.ArgumentParser, *, port: int) -> None:
    """The options every many-sockets bench shares: load size, handshake pace, timeouts, port."""
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight/worker")
    parser.add_argument("--broadcasts", type=int, default=5)
    parser.add_argument("--ws-impl", default="websockets-sansio")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--phase-timeout", type=float, default=120.0)
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="Postgres server for the notification service's scratch database",
    )


def prepare_socket_load(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse loads this machine cannot hold, then raise the file limit and install uvloop."""
    if not 1 <= args.sockets <= MAX_SOCKETS or args.events > MAX_EVENTS:
        parser.error(f"--sockets must be 1..{MAX_SOCKETS} and --events at most {MAX_EVENTS:,}")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


def with_database(server_url: str, name: str) -> str:
    """`server_url` with its database part replaced by `name`."""
    return server_url.rpartition("/")[0] + f"/{name}"


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A fresh database named `<prefix>_<hex>` on the server, dropped (forcibly) on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def clean_broker(amqp_url: str, topology: Topology, queues: Iterable[str] = ()) -> None:
    """Delete `queues` and the namespace's exchanges, then sweep whatever else the namespace
    left behind (queues a service declared for itself)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        for name in queues:
            channel = await connection.channel()
            with suppress(aio_pika.exceptions.AMQPError):
                await channel.queue_delete(name)
        for name in (topology.events_exchange, topology.incidents_exchange):
            channel = await connection.channel()
            with suppress(aio_pika.exceptions.AMQPError):
                await channel.exchange_delete(name)
    finally:
        await connection.close()
    await asyncio.to_thread(sweep_broker, amqp_url, topology.namespace)


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (NaN once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (NaN once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


async def wait_healthy(
    url: str, exited: Callable[[], bool], what: str, timeout_s: float = 30.0
) -> None:
    """Poll `url` until it answers 200. Raises RuntimeError if `exited()` turns true first or
    the deadline passes."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            if exited():
                raise RuntimeError(f"the {what} exited during start-up")
            try:
                if (await client.get(url, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the {what} did not become healthy in {timeout_s:.0f} s")


def notification_created(
    index: int, recipient: Recipient, channel: Channel, seq: int
) -> EventEnvelope:
    """The `index`th `notification.created` of a batch: a high-priority incident assignment
    for `recipient`, shown in-app and sent on `channel`."""
    notification = NotificationData(
        id=str(uuid.uuid4()),
        type="incident_assigned",
        priority=Priority.HIGH,
        title=f"INC-{index} assigned to you",
        message="Database latency is high on db-1.",
        entity_url=f"/incidents/{index}",
        created_at=datetime.now(UTC),
    )
    return created_envelope(notification, recipient, [Channel.IN_APP, channel], seq=seq)


@dataclass
class BatchRun:
    """One batch through a consumer process: how long it took and what it cost the process."""

    seconds: float
    rss_idle_mb: float
    rss_after_mb: float
    cpu_s: float


async def measure_batch(
    pid: int,
    exchange: aio_pika.abc.AbstractExchange,
    batch: list[EventEnvelope],
    delivered: Callable[[], int],
    expected: int,
    timeout_s: float,
    what: str,
) -> BatchRun:
    """`publish_and_wait`, with the consumer's memory before and after and its CPU used.
    `delivered()` counts from any start: only its growth during the batch is compared."""
    idle = rss_mb(pid)
    start_count = delivered()
    cpu_before = cpu_s(pid)
    seconds = await publish_and_wait(
        exchange, batch, lambda: delivered() - start_count, expected, timeout_s, what
    )
    return BatchRun(seconds, idle, rss_mb(pid), cpu_s(pid) - cpu_before)


async def publish_and_wait(
    exchange: aio_pika.abc.AbstractExchange,
    batch: list[EventEnvelope],
    delivered: Callable[[], int],
    expected: int,
    timeout_s: float,
    what: str,
) -> float:
    """Publish every envelope at once (confirmed), then poll until `delivered()` reaches
    `expected`. Returns seconds from the first publish; raises RuntimeError after `timeout_s`
    saying how many of `what` arrived."""
    started = time.perf_counter()
    await asyncio.gather(
        *(exchange.publish(envelope_message(e), routing_key(e.type, e.user_id)) for e in batch)
    )
    deadline = time.monotonic() + timeout_s
    while delivered() < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {delivered()} of {expected} {what} arrived")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


def start_notification_service(
    database_url: str,
    amqp_url: str,
    topology: Topology,
    port: int,
    workers: int,
    *,
    quiet: bool = False,
    **env: str,
) -> subprocess.Popen[bytes]:
    """`python -m services.notification` on 127.0.0.1:`port` with JWT secret "bench-secret",
    logging warnings only; `env` adds or overrides variables. `quiet` discards its output."""
    output = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(
        [sys.executable, "-m", "services.notification"],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "TOCSIN_NAMESPACE": topology.namespace,
            "TOCSIN_ENV": "test",  # a short, known secret is fine off production
            "JWT_SECRET": BENCH_JWT_SECRET,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WORKERS": str(workers),
            "LOG_LEVEL": "WARNING",
            **env,
        },
        cwd=REPO,
        stdout=output,
        stderr=output,
    )


def start_relay_process(
    database_url: str, amqp_url: str, namespace: str, **env: str
) -> subprocess.Popen[bytes]:
    """`python -m services.notification relay` on that store and broker namespace, polling
    every 50 ms, logging warnings only; `env` adds or overrides variables (RELAY_*)."""
    return subprocess.Popen(
        [sys.executable, "-m", "services.notification", "relay"],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "TOCSIN_NAMESPACE": namespace,
            "RELAY_POLL_INTERVAL_S": "0.05",
            "LOG_LEVEL": "WARNING",
            **env,
        },
        cwd=REPO,
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited after 15 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
