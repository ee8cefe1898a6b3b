"""Presence: how fast a read is with 10,000 users online, in Redis (the chosen store) and in
Postgres (the alternative), and how long presence takes to converge after `kill -9`.

    python -m bench.presence [--users 10000] [--reads 2000] [--sockets 200] [--skip-kill]

Store reads are timed from this process over TCP, one request at a time; the REST row goes
through a real realtime process (HTTP, JWT check, the same Redis script). The convergence row
starts two realtime processes with the default presence settings (heartbeat 2 s, dead after
10 s), opens `--sockets` users on one and one user on both, kills the first with SIGKILL and
polls the survivor's REST API every 50 ms until those users are offline. Everything it creates
(keys under its own prefix, a scratch database, a broker namespace) is removed. Prints one
table. Not a test: the numbers depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
import httpx
import redis.asyncio as redis
from websockets.asyncio.client import connect

from bench.harness import (
    BENCH_JWT_SECRET,
    REPO,
    clean_broker,
    free_port,
    scratch_database,
    stop_process,
    wait_healthy,
)
from contracts.presence import PresenceKeys
from contracts.topology import Topology
from contracts.websocket import WS_PATH
from identity import JwtSettings, mint_token
from identity.tokens import PRESENCE_READ_SCOPE
from services.realtime.presence.store import Delta, PresenceStore

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
JWT = JwtSettings(secret=BENCH_JWT_SECRET)

Row = tuple[str, str]


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    """p50 and p99 in ms of `runs` sequential calls (after 50 unmeasured ones)."""
    for _ in range(50):
        await call()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


@asynccontextmanager
async def beating(beat: Callable[[], Awaitable[Any]], every_s: float = 1.0) -> AsyncIterator[None]:
    """Renew the fake instances' heartbeats meanwhile, as live instances do (without it they
    would be swept as dead after 10 s and the reads would measure an empty store)."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every_s)
            await beat()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def fmt(p: tuple[float, float]) -> str:
    return f"{p[0]:.2f} / {p[1]:.2f}"


def population(users: int) -> tuple[list[str], list[str], list[str]]:
    """Two instances' users (a tenth on both) and ids of people who are offline."""
    ids = [f"bench-user-{i}" for i in range(users)]
    half, tenth = users // 2, users // 10
    return ids[: half + tenth], ids[half:], [f"bench-away-{i}" for i in range(users)]


async def redis_rows(users: int, reads: int, prefix: str) -> list[Row]:
    client = redis.Redis.from_url(REDIS)
    store = PresenceStore(client, PresenceKeys(prefix), dead_after_s=10)
    a, b, away = population(users)
    try:
        began = time.perf_counter()
        await store.sync("bench-a", Delta(users_online=a), full=True)
        full_ms = (time.perf_counter() - began) * 1000
        full_row = (f"Redis: one instance's full state ({len(a):,} users) ms", f"{full_ms:.1f}")
        await store.sync("bench-b", Delta(users_online=b), full=True)
        everyone = sorted(set(a) | set(b))
        assert len((await store.online_users())[0]) == len(everyone)
        rng = random.Random(7)

        def hundred() -> Awaitable[Any]:
            return store.users_online(rng.sample(everyone, 50) + rng.sample(away, 50))

        def one() -> Awaitable[Any]:
            return store.users_online([rng.choice(everyone)])

        fresh = [f"bench-new-{i}" for i in range(reads * 100)]
        batches = iter(range(0, len(fresh), 100))

        def write_hundred() -> Awaitable[Any]:
            at = next(batches)
            return store.sync("bench-a", Delta(users_online=fresh[at : at + 100]))

        async def beat() -> None:
            for instance in ("bench-a", "bench-b"):
                await store.sync(instance, Delta())

        async with beating(beat):
            rows = [
                (
                    f"Redis: 1 user online? ({users:,} online) p50 / p99 ms",
                    fmt(await timed(one, reads)),
                ),
                (
                    f"Redis: 100 users online? ({users:,} online) p50 / p99 ms",
                    fmt(await timed(hundred, reads)),
                ),
                (
                    f"Redis: list all {users:,} online p50 / p99 ms",
                    fmt(await timed(store.online_users, max(reads // 10, 50))),
                ),
                (
                    "Redis: write a batch of 100 connects p50 / p99 ms",
                    fmt(await timed(write_hundred, reads - 60)),
                ),
            ]
            assert len((await store.online_users())[0]) >= users, "swept meanwhile"
        return [*rows, full_row]
    finally:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)
        await client.aclose()


async def postgres_rows(users: int, reads: int) -> list[Row]:
    """The same questions of Postgres: one row per (instance, user), instances with a heartbeat
    time, a user online when a row of a live instance exists."""
    a, b, away = population(users)
    async with scratch_database(SERVER, "bench_presence") as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE instances (id text PRIMARY KEY, heartbeat_at timestamptz NOT NULL);"
                "CREATE TABLE presence (user_id text, instance_id text,"
                " PRIMARY KEY (user_id, instance_id));"
                "INSERT INTO instances VALUES ('a', now()), ('b', now());"
            )
            await conn.copy_records_to_table(
                "presence", records=[(u, "a") for u in a] + [(u, "b") for u in b]
            )
            await conn.execute("ANALYZE")
            everyone = sorted(set(a) | set(b))
            rng = random.Random(7)
            query = (
                "SELECT DISTINCT p.user_id FROM presence p JOIN instances i "
                "ON i.id = p.instance_id WHERE p.user_id = ANY($1) "
                "AND i.heartbeat_at > now() - interval '10 seconds'"
            )

            def hundred() -> Awaitable[Any]:
                return conn.fetch(query, rng.sample(everyone, 50) + rng.sample(away, 50))

            def listing() -> Awaitable[Any]:
                return conn.fetch(
                    "SELECT DISTINCT p.user_id FROM presence p JOIN instances i ON "
                    "i.id = p.instance_id WHERE i.heartbeat_at > now() - interval '10 seconds'"
                )

            fresh = iter(range(reads * 2))

            def write_hundred() -> Awaitable[Any]:
                at = next(fresh)
                rows = [(f"pg-new-{at}-{i}", "a") for i in range(100)]
                return conn.executemany("INSERT INTO presence VALUES ($1, $2)", rows)

            beat_conn = await asyncpg.connect(url)

            async def beat() -> None:
                await beat_conn.execute("UPDATE instances SET heartbeat_at = now()")

            async with beating(beat):
                rows = [
                    (
                        f"Postgres: 100 users online? ({users:,} online) p50 / p99 ms",
                        fmt(await timed(hundred, reads)),
                    ),
                    (
                        f"Postgres: list all {users:,} online p50 / p99 ms",
                        fmt(await timed(listing, max(reads // 10, 50))),
                    ),
                    (
                        "Postgres: write a batch of 100 connects p50 / p99 ms",
                        fmt(await timed(write_hundred, reads // 4)),
                    ),
                ]
                assert len(await listing()) >= users, "the instances expired meanwhile"
            await beat_conn.close()
            return rows
        finally:
            await conn.close()


def start_realtime(topology: Topology, port: int, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.realtime"],
        env={
            **os.environ,
            "PORT": str(port),
            "AMQP_URL": AMQP,
            "REDIS_URL": REDIS,
            "TOCSIN_NAMESPACE": topology.namespace,
            "JWT_SECRET": BENCH_JWT_SECRET,
            "NOTIFICATION_API_URL": "http://127.0.0.1:9",
            "INSTANCE_ID": uuid.uuid4().hex[:8],
            "LOG_LEVEL": "WARNING",
            **env,
        },
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def rest_and_kill_rows(users: int, reads: int, sockets: int, kill: bool) -> list[Row]:
    topology = Topology(namespace=f"bench-presence-{uuid.uuid4().hex[:8]}")
    prefix = f"{topology.namespace}:presence"
    ports = [free_port(), free_port()]
    processes = [start_realtime(topology, port) for port in ports]
    client = redis.Redis.from_url(REDIS)
    rows: list[Row] = []
    try:
        for process, port in zip(processes, ports, strict=True):
            await wait_healthy(
                f"http://127.0.0.1:{port}/readyz",
                lambda p=process: p.poll() is not None,
                "realtime",
            )
        store = PresenceStore(client, PresenceKeys(prefix), dead_after_s=10)
        a, b, away = population(users)
        await store.sync("bench-a", Delta(users_online=a), full=True)
        await store.sync("bench-b", Delta(users_online=b), full=True)
        everyone = sorted(set(a) | set(b))
        reader = {
            "Authorization": f"Bearer {mint_token(JWT, 'bench', scopes=[PRESENCE_READ_SCOPE])}"
        }
        rng = random.Random(7)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ports[1]}", headers=reader
        ) as http:

            def hundred() -> Awaitable[Any]:
                ids = ",".join(rng.sample(everyone, 50) + rng.sample(away, 50))
                return http.get("/api/v1/presence", params={"user_ids": ids})

            async def beat() -> None:
                for instance in ("bench-a", "bench-b"):
                    await store.sync(instance, Delta())

            async with beating(beat):
                rest = fmt(await timed(hundred, reads))
                listing = (await http.get("/api/v1/presence/users")).json()["user_ids"]
                assert len(listing) >= users, "the instances were swept meanwhile"
            rows.append(
                (f"REST via realtime: 100 users online? ({users:,} online) p50 / p99 ms", rest)
            )
            await store.remove_instance("bench-a")
            await store.remove_instance("bench-b")
            if kill:
                rows.append(await converge(processes[0], ports, http, sockets))
    finally:
        for process in processes:
            stop_process(process)
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)
        await client.aclose()
        await clean_broker(AMQP, topology)
    return rows


async def converge(
    doomed: subprocess.Popen[bytes], ports: list[int], http: httpx.AsyncClient, sockets: int
) -> Row:
    gone = [f"bench-doomed-{i}" for i in range(sockets)]
    both = "bench-both"

    def url(port: int, user: str) -> str:
        return f"ws://127.0.0.1:{port}{WS_PATH}?token={mint_token(JWT, user)}"

    held = [await connect(url(ports[0], u), open_timeout=20) for u in gone]
    held += [await connect(url(ports[0], both)), await connect(url(ports[1], both))]
    ids = ",".join([*gone[:99], both])

    async def seen() -> dict[str, bool]:
        users: dict[str, bool] = (
            await http.get("/api/v1/presence", params={"user_ids": ids})
        ).json()["users"]
        return users

    deadline = time.monotonic() + 30
    while not all((await seen()).values()):
        if time.monotonic() > deadline:
            raise RuntimeError("the users did not come online")
        await asyncio.sleep(0.05)
    doomed.kill()
    killed = time.monotonic()
    while True:
        now = await seen()
        if not now[both]:
            raise RuntimeError("the user on both instances went offline")
        if not any(v for u, v in now.items() if u != both):
            break
        if time.monotonic() - killed > 60:
            raise RuntimeError("presence did not converge in 60 s")
        await asyncio.sleep(0.05)
    took = time.monotonic() - killed
    for socket in held:
        await socket.close()
    return (f"kill -9 → {sockets} users offline on the survivor (s; bound 10 s)", f"{took:.1f}")


async def run(args: argparse.Namespace) -> None:
    rows = await redis_rows(
        args.users, args.reads, f"bench-presence-{uuid.uuid4().hex[:8]}:presence"
    )
    rows += await postgres_rows(args.users, args.reads)
    rows += await rest_and_kill_rows(args.users, args.reads, args.sockets, not args.skip_kill)
    width = max(len(name) for name, _ in rows)
    print(f"| {'metric'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|------:|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=2_000)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--skip-kill", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
