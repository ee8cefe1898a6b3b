"""Tocsin's realtime service against python-socketio (AsyncServer + AsyncAioPikaManager).

python -m bench.realtime_vs_socketio [--sockets 10000] [--workers 4] [--events 50000]
                                     [--rate 500] [--latency-seconds 10] [--broadcasts 5]

Both systems run on this machine in the same run, one after the other, with the same load
generator (`bench.realtime_load`: worker processes holding raw sockets), the same server stack
(uvicorn + uvloop + httptools, same WebSocket implementation, no compression) and messages
published on RabbitMQ the way each system expects them:

- Tocsin: a `realtime.push` command per message on `<ns>.events`, routed by user key, so an
  instance receives only the messages of users it holds;
- python-socketio: the manager's `emit` message on its fanout exchange (every server gets every
  message), exactly what `AsyncAioPikaManager.emit(event, data, room=user)` publishes.

Rows: (1) messages delivered per second with N sockets, each to one user's socket; (2) publish
→ socket latency p50/p99 at --rate messages/s; (3) one message to all N sockets: time until
the last socket has it (median of --broadcasts); (4) server RSS growth per idle socket;
(5) sockets accepted per second, JWT check included, for users new to the server and for
all of them reconnecting at once right after dropping. Every loop is bounded in count and time
and only 127.0.0.1 is targeted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

import aio_pika
import httpx
import orjson

from bench.harness import (
    add_socket_load_arguments,
    prepare_socket_load,
    scratch_database,
    start_notification_service,
    stop_process,
    wait_healthy,
)
from bench.realtime_load import SOCKETIO, TOCSIN, worker_main
from bench.realtime_vs_socketio_publisher import RawPublisher
from contracts.realtime import REALTIME_PUSH
from contracts.topology import Topology, routing_key
from identity import JwtSettings, mint_token
from services.notification.migrations import upgrade
from tests.support.infra import sweep_broker

JWT_SECRET = "bench-secret"
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class Result:
    events_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    broadcast_ms: float = 0.0
    kb_per_socket: float = 0.0
    accepts_per_s: float = 0.0
    reaccepts_per_s: float = 0.0
    connected: int = 0
    notes: list[str] = field(default_factory=list)


class System:
    """One server process under test, and how to publish to its sockets."""

    def __init__(
        self, kind: str, port: int, ws_impl: str, namespace: str, extra_env: dict[str, str]
    ) -> None:
        self.kind = kind
        self.port = port
        self.namespace = namespace
        env = {
            **extra_env,
            **os.environ,
            "PORT": str(port),
            "AMQP_URL": AMQP_URL,
            "TOCSIN_ENV": "test",  # a short, known secret is fine off production
            "JWT_SECRET": JWT_SECRET,
            "WS_IMPL": ws_impl,
            "LOG_LEVEL": "WARNING",
        }
        if kind == TOCSIN:
            env.update(
                TOCSIN_NAMESPACE=self.namespace,
                MAX_CONNECTIONS_PER_USER="20",
                ALLOWED_ORIGINS="*",
            )
            args = [sys.executable, "-m", "services.realtime"]
            self.health = f"http://127.0.0.1:{port}/readyz"
        else:
            env.update(SOCKETIO_CHANNEL=self.namespace)
            args = [sys.executable, "-m", "bench.socketio_baseline"]
            self.health = f"http://127.0.0.1:{port}/healthz"
        self.process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
        self.connection: aio_pika.abc.AbstractConnection | None = None
        self.exchange: aio_pika.abc.AbstractExchange | None = None
        self.publisher: RawPublisher | None = None

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.process.returncode}")
            try:
                if httpx.get(self.health, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} server not healthy after {timeout}s")

    def rss_kb(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    async def open_publisher(self) -> None:
        self.connection = await aio_pika.connect(AMQP_URL)
        channel = await self.connection.channel(publisher_confirms=False)
        if self.kind == TOCSIN:
            name = Topology(self.namespace).events_exchange
            self.exchange = await channel.declare_exchange(
                name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        else:
            self.exchange = await channel.declare_exchange(
                self.namespace, aio_pika.ExchangeType.FANOUT
            )
        self.publisher = await RawPublisher.connect(AMQP_URL)

    def message(self, user_id: str | None, data: dict[str, Any]) -> tuple[bytes, str]:
        """Body and routing key that make the system send `data` to the user (None: all)."""
        if self.kind == TOCSIN:
            target = user_id or "*"
            body = {"user_id": target, "event": "notification:new", "data": data}
            return orjson.dumps(body), routing_key(REALTIME_PUSH, target)
        emit = {
            "method": "emit",
            "event": "notification:new",
            "data": [data],
            "binary": False,
            "namespace": "/",
            "room": user_id,
            "skip_sid": None,
            "callback": None,
            "host_id": "bench-publisher",
        }
        return json.dumps(emit).encode(), "*"

    def marshal(self, body: bytes, key: str) -> bytes:
        assert self.exchange is not None
        return RawPublisher.marshal(self.exchange.name, key, body)

    async def publish(self, *messages: bytes) -> None:
        """Send messages made by `marshal`, in order."""
        assert self.publisher is not None
        await self.publisher.write(b"".join(messages))

    async def close(self) -> None:
        if self.publisher is not None:
            await self.publisher.close()
        if self.connection is not None:
            channel = await self.connection.channel()
            name = Topology(self.namespace).events_exchange if self.kind == TOCSIN else None
            await channel.exchange_delete(name or self.namespace)
            await self.connection.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        # The server's own queues (per-instance, per-user) are named in the namespace too.
        await asyncio.to_thread(sweep_broker, AMQP_URL, self.namespace)


class Workers:
    def __init__(self, kind: str, port: int, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Pipe] = []
        self.processes = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=worker_main, args=(theirs, kind, port), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    async def ask(self, *command: Any) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(command)
        return [await asyncio.to_thread(pipe.recv) for pipe in self.pipes]

    async def ask_each(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        return [await asyncio.to_thread(pipe.recv) for pipe in self.pipes]

    async def received(self) -> tuple[int, int]:
        stats = await self.ask("stats", False)
        return sum(s["received"] for s in stats), max(s["last_ns"] for s in stats)

    async def wait_received(self, expected: int, timeout: float) -> tuple[int, int]:
        deadline = time.monotonic() + timeout
        while True:
            count, last = await self.received()
            if count >= expected or time.monotonic() > deadline:
                return count, last
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        await self.ask("close")
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.kill()


def _percentile(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


async def measure(kind: str, args: argparse.Namespace, port: int) -> Result:
    """Tocsin's realtime service runs beside a real notification service (it asks it for a
    new user's latest seq), on a scratch database, as in production."""
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    if kind != TOCSIN:
        return await _measure(kind, args, port, namespace, {})
    async with scratch_database(args.database_url, "tocsin_bench") as database_url:
        await asyncio.to_thread(upgrade, database_url)
        api_port = port + 100
        api = start_notification_service(
            database_url, AMQP_URL, Topology(namespace), api_port, 1, quiet=True,
            INCIDENTS_ENABLED="false", DELIVERIES_ENABLED="false",
        )  # fmt: skip
        try:
            await wait_healthy(
                f"http://127.0.0.1:{api_port}/readyz", lambda: api.poll() is not None, "api"
            )
            env = {"NOTIFICATION_API_URL": f"http://127.0.0.1:{api_port}"}
            return await _measure(kind, args, port, namespace, env)
        finally:
            stop_process(api)


async def _measure(
    kind: str, args: argparse.Namespace, port: int, namespace: str, env: dict[str, str]
) -> Result:
    result = Result()
    jwt = JwtSettings(secret=JWT_SECRET)
    users = [f"bench-{kind}-{i}" for i in range(args.sockets)]
    tokens = [mint_token(jwt, u, ttl_s=3600) for u in users]
    system = System(kind, port, args.ws_impl, namespace, env)
    workers = Workers(kind, port, args.workers)
    try:
        system.wait_healthy()
        await system.open_publisher()
        rss_before = system.rss_kb()
        chunks = [tokens[i :: args.workers] for i in range(args.workers)]
        replies = await workers.ask_each(
            [("connect", chunk, args.concurrency, args.connect_timeout) for chunk in chunks]
        )
        result.connected = sum(r["ok"] for r in replies)
        failed = sum(r["failed"] for r in replies)
        result.accepts_per_s = result.connected / max(r["seconds"] for r in replies)
        if failed:
            result.notes.append(f"{kind}: {failed} of {args.sockets} sockets failed to connect")
        await asyncio.sleep(2)
        result.kb_per_socket = (system.rss_kb() - rss_before) / max(result.connected, 1)

        # (5b) every socket drops and reconnects at once (a deploy, a network blip).
        await workers.ask("drop")
        await asyncio.sleep(0.5)
        replies = await workers.ask_each(
            [("connect", chunk, args.concurrency, args.connect_timeout) for chunk in chunks]
        )
        result.connected = sum(r["ok"] for r in replies)
        result.reaccepts_per_s = result.connected / max(r["seconds"] for r in replies)
        await asyncio.sleep(1)

        # (1) sustained delivery: --events messages, each to one user's socket.
        await workers.ask("reset")
        messages = [
            system.marshal(
                *system.message(users[i % args.sockets], {"id": i, "title": "Disk full on db-1"})
            )
            for i in range(args.events)
        ]
        batches = [b"".join(messages[i : i + 500]) for i in range(0, len(messages), 500)]
        began = time.time_ns()
        for batch in batches:  # marshalled ahead, so the publisher keeps up
            await system.publish(batch)
        published_s = (time.time_ns() - began) / 1e9
        count, last = await workers.wait_received(args.events, args.phase_timeout)
        result.events_per_s = count / max((last - began) / 1e9, 1e-9)
        if count < args.events:
            result.notes.append(f"{kind}: {count}/{args.events} delivered within the timeout")
        result.notes.append(f"{kind}: published {args.events} in {published_s:.2f}s")

        # (2) latency at a steady rate.
        await asyncio.sleep(1)
        await workers.ask("reset")
        total = int(args.rate * args.latency_seconds)
        loop = asyncio.get_running_loop()
        paced_from = loop.time()
        for i in range(total):
            delay = paced_from + i / args.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            data = {"id": i, "title": "Disk full on db-1", "t": time.time_ns()}
            await system.publish(
                system.marshal(*system.message(users[(i * 7919) % args.sockets], data))
            )
        await workers.wait_received(total, args.phase_timeout)
        stats = await workers.ask("stats", True)
        latencies = [v for s in stats for v in s["latencies_us"]]
        result.p50_ms = _percentile(latencies, 0.50) / 1000
        result.p99_ms = _percentile(latencies, 0.99) / 1000

        # (3) one message to every socket.
        times = []
        for _ in range(args.broadcasts):
            await asyncio.sleep(0.5)
            await workers.ask("reset")
            announcement = system.marshal(*system.message(None, {"title": "Maintenance at 22:00"}))
            began = time.time_ns()
            await system.publish(announcement)
            count, last = await workers.wait_received(result.connected, args.phase_timeout)
            if count < result.connected:
                result.notes.append(f"{kind}: broadcast reached {count}/{result.connected}")
            times.append((last - began) / 1e6)
        result.broadcast_ms = statistics.median(times)
    finally:
        await workers.close()
        await system.close()
    return result


ROWS = [
    ("events/s delivered", "events_per_s", True, "{:,.0f}"),
    ("latency p50 at rate (ms)", "p50_ms", False, "{:.2f}"),
    ("latency p99 at rate (ms)", "p99_ms", False, "{:.2f}"),
    ("broadcast to all, last socket (ms)", "broadcast_ms", False, "{:.1f}"),
    ("RSS per idle socket (KB)", "kb_per_socket", False, "{:.1f}"),
    ("sockets accepted/s, new users (JWT incl.)", "accepts_per_s", True, "{:,.0f}"),
    ("sockets accepted/s, all reconnecting", "reaccepts_per_s", True, "{:,.0f}"),
]


def print_table(results: dict[str, Result], args: argparse.Namespace) -> None:
    print(
        f"\nsockets={args.sockets} workers={args.workers} events={args.events} "
        f"rate={args.rate}/s x {args.latency_seconds}s broadcasts={args.broadcasts} "
        f"ws={args.ws_impl} cpus={os.cpu_count()}"
    )
    names = list(results)
    header = f"{'metric':<44}" + "".join(f"{n:>16}" for n in names)
    if len(names) == 2:
        header += f"{'tocsin advantage':>18}"
    print(header)
    print("-" * len(header))
    for label, attr, higher, fmt in ROWS:
        values = [getattr(results[n], attr) for n in names]
        line = f"{label:<44}" + "".join(f"{fmt.format(v):>16}" for v in values)
        if len(names) == 2 and all(v > 0 for v in values):
            ours, theirs = values
            ratio = ours / theirs if higher else theirs / ours
            line += f"{ratio:>17.1f}x"
        print(line)
    for name in names:
        print(f"{name}: {results[name].connected} sockets connected")
        for note in results[name].notes:
            print(f"  note: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="load generator processes")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--systems", default="tocsin,socketio")
    add_socket_load_arguments(parser, port=18301)
    args = parser.parse_args(argv)
    prepare_socket_load(parser, args)
    results: dict[str, Result] = {}
    for offset, kind in enumerate(k.strip() for k in args.systems.split(",")):
        if kind not in (TOCSIN, SOCKETIO):
            parser.error(f"unknown system {kind}")
        print(f"measuring {kind} ...", flush=True)
        results[kind] = asyncio.run(measure(kind, args, args.port + offset))
    print_table(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
