"""Web Push sends per second one push service process sustains against a local push service,
encryption and VAPID signing included, and its CPU per push.

    python -m bench.push_throughput [--events 1000] [--concurrency 1,8,32] [--devices 1]

For each PUSH_MAX_CONCURRENCY value: creates a fresh database, starts `python -m
services.push` as a real process (no delay: every push is due at once), registers
`--devices` browser subscriptions (fresh P-256 keys, as a browser makes them) for one user
through its API, starts a local push service (uvicorn, on its own thread, answering 201 to
every POST after checking it is an aes128gcm body with a VAPID header), publishes
`--events` notification.created events with confirms, and measures the time from the first
publish until the push service has seen every push. Each push is scheduled (a timer row),
claimed, encrypted for its subscription (RFC 8291), signed (RFC 8292, the token reused per
origin), sent, recorded, and its outcome published with confirms, as in production. Not a
test: numbers depend on the machine (and on whatever else runs on it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
from contracts.push import DeviceKind
from contracts.topology import Topology
from identity import JwtSettings, mint_token
from messaging.topology import consumer_queue_names
from services.push.devices import Device
from services.push.migrations import upgrade
from services.push.settings import DEFAULT_RETRY_DELAYS_MS
from services.push.vapid import generate_keys
from services.push.webpush import encrypt

JWT_SECRET = "bench-push-secret"
USER = "bench-push-user"


@dataclass
class Result:
    concurrency: int
    pushes: int
    seconds: float
    rss_idle_mb: float
    rss_after_mb: float
    cpu_ms_per_push: float

    @property
    def per_s(self) -> float:
        return self.pushes / self.seconds if self.seconds else 0.0


class CountingPushService:
    """An ASGI push service that accepts (201) every aes128gcm push with a VAPID header."""

    def __init__(self) -> None:
        self.count = 0
        self.refused = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        accepted = headers.get(b"content-encoding") == b"aes128gcm" and headers.get(
            b"authorization", b""
        ).startswith(b"vapid t=")
        with self.lock:
            if accepted:
                self.count += 1
            else:
                self.refused += 1
        await send({"type": "http.response.start", "status": 201 if accepted else 401})
        await send({"type": "http.response.body", "body": b""})


def start_push_service(app: CountingPushService, port: int) -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def browser_subscription(push_port: int) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "endpoint": f"http://127.0.0.1:{push_port}/push/{secrets.token_urlsafe(12)}",
        "keys": {
            "p256dh": base64.urlsafe_b64encode(point).decode().rstrip("="),
            "auth": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
        },
    }


def encryption_ms(rounds: int = 300) -> float:
    """CPU of encrypting one push (RFC 8291: a fresh ECDH key, HKDF, AES-GCM) in this
    process, with the service's own code, for the share of the per-push cost it is."""
    subscription = browser_subscription(443)
    device = Device(
        id="bench",
        user_id=USER,
        kind=DeviceKind.WEB,
        address=subscription["endpoint"],
        p256dh=subscription["keys"]["p256dh"],
        auth=subscription["keys"]["auth"],
        created_at=datetime.now(UTC),
    )
    payload = b'{"title": "INC-1 assigned to you", "body": "Database latency is high."}'
    started = time.process_time()
    for _ in range(rounds):
        encrypt(device, payload)
    return (time.process_time() - started) * 1000 / rounds


def created(index: int) -> EventEnvelope:
    return notification_created(index, Recipient(user_id=USER), Channel.PUSH, seq=index + 1)


async def run_one(
    concurrency: int,
    events: int,
    devices: int,
    database_server: str,
    amqp_url: str,
    push_service: CountingPushService,
    push_port: int,
) -> Result:
    topology = Topology(f"bench-push-{uuid.uuid4().hex[:8]}")
    async with scratch_database(database_server, "tocsin_bench_push") as database_url:
        await asyncio.to_thread(upgrade, database_url)
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.push",
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "AMQP_URL": amqp_url,
                "TOCSIN_NAMESPACE": topology.namespace,
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "JWT_SECRET": JWT_SECRET,
                "PUSH_VAPID_PRIVATE_KEY": generate_keys()[0],
                "PUSH_ALLOWED_TARGETS": f"127.0.0.1:{push_port}",
                "PUSH_DELAY_S": "0",
                "PUSH_MAX_CONCURRENCY": str(concurrency),
                "PUSH_TIMER_BATCH": str(max(32, concurrency * 2)),
                "PUSH_PREFETCH": str(max(32, concurrency * 2)),
                "PUSH_MAX_DEVICES_PER_USER": str(max(20, devices)),
                "LOG_LEVEL": "WARNING",
            },
        )
        connection = await aio_pika.connect_robust(amqp_url)
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_healthy(
                f"{base}/readyz", lambda: process.returncode is not None, "push service"
            )
            token = mint_token(JwtSettings(secret=JWT_SECRET), USER)
            async with httpx.AsyncClient(base_url=base) as api:
                for _ in range(devices):
                    response = await api.post(
                        "/api/v1/push/subscriptions",
                        json=browser_subscription(push_port),
                        headers={"authorization": f"Bearer {token}"},
                    )
                    response.raise_for_status()
            batch = [created(i) for i in range(events)]
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(topology.events_exchange)
            expected = events * devices
            run = await measure_batch(
                process.pid, exchange, batch, lambda: push_service.count, expected, 600, "pushes"
            )
        finally:
            process.terminate()
            await process.wait()
            await connection.close()
            await clean_broker(
                amqp_url, topology, consumer_queue_names(topology, "push", DEFAULT_RETRY_DELAYS_MS)
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
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    args = parser.parse_args(argv)
    push_service = CountingPushService()
    push_port = free_port()
    server = start_push_service(push_service, push_port)
    try:
        results = [
            await run_one(
                int(c),
                args.events,
                args.devices,
                args.database_url,
                args.amqp_url,
                push_service,
                push_port,
            )
            for c in args.concurrency.split(",")
        ]
    finally:
        server.should_exit = True
    print(
        f"\npush service, one process, {args.events} events x {args.devices} browser(s) per "
        "run, local push service (aes128gcm + VAPID)"
    )
    print(
        f"{'max concurrency':>15} | {'pushes/s':>8} | {'seconds':>8} | {'RSS idle MB':>11} | "
        f"{'RSS after MB':>12} | {'push service CPU ms/push':>24}"
    )
    print(f"{'-' * 15}-+-{'-' * 8}-+-{'-' * 8}-+-{'-' * 11}-+-{'-' * 12}-+-{'-' * 24}")
    for r in results:
        print(
            f"{r.concurrency:>15} | {r.per_s:>8.0f} | {r.seconds:>8.2f} | "
            f"{r.rss_idle_mb:>11.1f} | {r.rss_after_mb:>12.1f} | {r.cpu_ms_per_push:>24.2f}"
        )
    print(f"encryption alone (aes128gcm, this process): {encryption_ms():.2f} ms CPU per push")
    if push_service.refused:
        print(f"!! the push service refused {push_service.refused} requests")


if __name__ == "__main__":
    asyncio.run(main())
