"""Soak: the whole pipeline under steady load for minutes; prints one row per minute.

    python -m bench.soak [--sockets 1000] [--rate 50] [--minutes 3] [--webhook-every 10]
                         [--email-every 1]

Starts a fresh database (dropped at the end) and its own broker namespace, then the
notification service, one realtime instance, the email consumer and the webhook service as
real processes, an in-process SMTP server and an in-process webhook receiver. Opens
`--sockets` WebSockets (one per user), gives one user in `--email-every` an email address (the
others have none: their notifications are recorded as skipped by the email consumer) and
registers a webhook for one user in `--webhook-every`. Then creates `--rate` notifications per
second (each for one random user) for `--minutes`, and reports per minute: creates accepted,
create→socket latency p50/p99 (from the moment the request was sent), the RSS of every
service, and at the end lost and duplicated deliveries on the sockets, the SMTP server and the
webhook receiver.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.harness import cpu_s, rss_mb
from tests.support.databases import migrate_all
from tests.support.infra import create_database, drop_database, locate_postgres, locate_rabbitmq
from tests.support.system import System


@dataclass
class Observed:
    sent_at: dict[str, float] = field(default_factory=dict)  # title -> monotonic send time
    accepted: dict[str, str] = field(default_factory=dict)  # notification id -> title
    owner: dict[str, str] = field(default_factory=dict)  # notification id -> user
    refused: int = 0
    skipped: int = 0
    received: Counter[str] = field(default_factory=Counter)  # notification id -> count
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds)
    closed: int = 0


async def hold_socket(url: str, observed: Observed) -> ClientConnection:
    ws = await connect(url, open_timeout=60, max_size=2**20, ping_interval=None)
    first = orjson.loads(await ws.recv())
    assert first["event"] == "connection:established", first

    async def read() -> None:
        try:
            async for raw in ws:
                message = orjson.loads(raw)
                if message["event"] != "notification:new":
                    continue
                data = message["data"]
                observed.received[data["id"]] += 1
                sent = observed.sent_at.get(data["title"])
                if sent is not None and observed.received[data["id"]] == 1:
                    now = time.monotonic()
                    observed.latencies.append((now, now - sent))
        except ConnectionClosed:
            observed.closed += 1

    asyncio.get_running_loop().create_task(read())
    return ws


async def open_sockets(system: System, users: list[str], observed: Observed) -> list[Any]:
    sockets: list[Any] = []
    for start in range(0, len(users), 200):
        batch = users[start : start + 200]
        sockets += await asyncio.gather(
            *(
                hold_socket(
                    f"{system.ws_url()}?token="
                    + system.user_headers(u)["Authorization"].removeprefix("Bearer "),
                    observed,
                )
                for u in batch
            )
        )
    return sockets


async def load(
    system: System, users: list[str], rate: float, seconds: float, observed: Observed
) -> None:
    headers = system.service_headers("soak")
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=system.api_url, timeout=30, limits=limits) as api:
        pending: set[asyncio.Task[None]] = set()

        in_flight = asyncio.Semaphore(32)

        async def create(user: str) -> None:
            async with in_flight:
                await send(user)

        async def send(user: str) -> None:
            title = f"soak {uuid.uuid4().hex}"
            observed.sent_at[title] = time.monotonic()
            try:
                response = await api.post(
                    "/api/v1/notifications",
                    json={
                        "recipients": [user],
                        "type": "incident_created",
                        "priority": "high",
                        "title": title,
                    },
                    headers=headers,
                )
            except httpx.HTTPError:
                observed.refused += 1
                return
            if response.status_code == 201:
                notification_id = response.json()["notifications"][0]["id"]
                observed.accepted[notification_id] = title
                observed.owner[notification_id] = user
            else:
                observed.refused += 1

        started = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate) - sent
            if len(pending) > 256:  # the load generator fell behind: do not pile up requests
                observed.skipped += due
                sent += due
                due = 0
            for _ in range(max(0, due)):
                task = asyncio.create_task(create(random.choice(users)))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            await asyncio.sleep(0.01)
        if pending:
            await asyncio.wait(pending, timeout=60)


async def sample(
    system: System, observed: Observed, minutes: int, rows: list[dict[str, Any]]
) -> None:
    pids = {name: process.pid for name, process in system.processes.items()}
    last_cpu = {name: cpu_s(pid) for name, pid in pids.items()}
    start = time.monotonic()
    for minute in range(1, minutes + 1):
        await asyncio.sleep(max(0.0, start + 60 * minute - time.monotonic()))
        now = time.monotonic()
        window = [lat for at, lat in observed.latencies if now - 60 <= at <= now]
        window.sort()
        row: dict[str, Any] = {
            "minute": minute,
            "accepted": len(observed.accepted),
            "delivered/min": len(window),
            "p50 ms": window[len(window) // 2] * 1000 if window else float("nan"),
            "p99 ms": window[int(len(window) * 0.99) - 1] * 1000 if window else float("nan"),
        }
        for name, pid in pids.items():
            row[f"{name} MB"] = rss_mb(pid)
            cpu = cpu_s(pid)
            row[f"{name} cpu%"] = (cpu - last_cpu[name]) / 60 * 100
            last_cpu[name] = cpu
        rows.append(row)
        print(" | ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in row.items()), flush=True)  # fmt: skip


async def soak(args: argparse.Namespace) -> None:
    server = locate_postgres()
    database_url = await asyncio.to_thread(create_database, server, "tocsin_soak")
    amqp_url = locate_rabbitmq()
    system = System(
        database_url,
        amqp_url,
        notification_env={"DB_POOL_SIZE": "20", "LOG_LEVEL": "WARNING"},
        realtime_env={"MAX_CONNECTIONS_PER_USER": "5"},
    )
    try:
        await asyncio.to_thread(migrate_all, database_url)
        await asyncio.to_thread(system.start)
        users = [f"soak-{uuid.uuid4().hex[:10]}" for _ in range(args.sockets)]
        hooked = users[:: args.webhook_every]
        mailed = users[:: args.email_every]
        print(f"subscribing {len(mailed)} users, registering {len(hooked)} webhooks", flush=True)
        async with httpx.AsyncClient(timeout=30) as http:
            sem = asyncio.Semaphore(16)

            async def subscribe(user: str) -> None:
                async with sem:
                    response = await http.put(
                        f"{system.api_url}/api/v1/subscribers/{user}",
                        json={"email": f"{user}@example.test", "name": "Soak"},
                        headers=system.service_headers(),
                    )
                    response.raise_for_status()

            await asyncio.gather(*(subscribe(u) for u in mailed))
        for user in hooked:
            await asyncio.to_thread(system.register_webhook, user)
        observed = Observed()
        print(f"opening {len(users)} sockets", flush=True)
        opened = time.monotonic()
        sockets = await open_sockets(system, users, observed)
        print(f"opened in {time.monotonic() - opened:.1f}s; load {args.rate}/s for "
              f"{args.minutes} min", flush=True)  # fmt: skip
        rows: list[dict[str, Any]] = []
        sampler = asyncio.create_task(sample(system, observed, args.minutes, rows))
        await load(system, users, args.rate, args.minutes * 60, observed)
        await sampler
        await drain(system, observed, set(mailed))
        report(args, system, observed, rows, set(hooked), set(mailed))
        for ws in sockets:
            await ws.close()
    finally:
        await asyncio.to_thread(system.stop)
        await asyncio.to_thread(drop_database, database_url)


def email_counts(system: System) -> Counter[str]:
    return Counter(r.header("X-Tocsin-Notification-Id") for r in system.smtp.messages())


def hook_counts(system: System) -> Counter[str]:
    return Counter(
        h.payload["data"]["data"]["notification"]["id"]
        for h in list(system.receiver.received)
        if h.verified and h.payload.get("type") == "notification.created"
    )


async def drain(system: System, observed: Observed, mailed: set[str]) -> None:
    deadline = time.monotonic() + 120
    expected = set(observed.accepted)
    emailed = {nid for nid in expected if observed.owner[nid] in mailed}
    while time.monotonic() < deadline:
        if expected <= set(observed.received) and emailed <= set(email_counts(system)):
            break
        await asyncio.sleep(1)
    await asyncio.sleep(3)


def report(
    args: argparse.Namespace,
    system: System,
    observed: Observed,
    rows: list[dict[str, Any]],
    hooked: set[str],
    mailed: set[str],
) -> None:
    expected = set(observed.accepted)
    socket_lost = len(expected - set(observed.received))
    socket_dups = sum(n - 1 for n in observed.received.values() if n > 1)
    emails = email_counts(system)
    hooks = hook_counts(system)
    hooked_ids = {nid for nid in expected if observed.owner[nid] in hooked}
    mailed_ids = {nid for nid in expected if observed.owner[nid] in mailed}
    print()
    print(f"## soak: {args.sockets} sockets, {args.rate} creates/s, {args.minutes} min "
          f"(whole pipeline, one realtime instance, {os.cpu_count()} cores)")  # fmt: skip
    names = list(system.processes)
    header = ["min", "accepted", "socket deliveries", "p50 ms", "p99 ms"]
    header += [f"RSS {n} MB" for n in names] + [f"CPU {n} %" for n in names]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [row["minute"], row["accepted"], row["delivered/min"],
                 f"{row['p50 ms']:.0f}", f"{row['p99 ms']:.0f}"]  # fmt: skip
        cells += [f"{row[f'{n} MB']:.0f}" for n in names]
        cells += [f"{row[f'{n} cpu%']:.0f}" for n in names]
        print("| " + " | ".join(map(str, cells)) + " |")
    all_latencies = sorted(lat for _, lat in observed.latencies)
    print()
    print(f"accepted {len(expected)}, refused {observed.refused}, not sent (generator behind) "
          f"{observed.skipped}, sockets closed by server "
          f"{observed.closed}")  # fmt: skip
    p99 = all_latencies[int(len(all_latencies) * 0.99) - 1] * 1000 if all_latencies else 0.0
    p50 = statistics.median(all_latencies) * 1000 if all_latencies else 0.0
    print(f"socket: lost {socket_lost}, duplicates {socket_dups}, overall p50 {p50:.0f} ms, "
          f"p99 {p99:.0f} ms")  # fmt: skip
    print(f"email ({len(mailed)} users with an address): lost {len(mailed_ids - set(emails))}, "
          f"extra {len(set(emails) - mailed_ids)}, duplicates "
          f"{sum(n - 1 for n in emails.values() if n > 1)}")  # fmt: skip
    print(f"webhook ({len(hooked)} users with an endpoint): lost {len(hooked_ids - set(hooks))},"
          f" extra {len(set(hooks) - hooked_ids)}, duplicates "
          f"{sum(n - 1 for n in hooks.values() if n > 1)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--webhook-every", type=int, default=10)
    parser.add_argument("--email-every", type=int, default=1)
    asyncio.run(soak(parser.parse_args()))


if __name__ == "__main__":
    main()
