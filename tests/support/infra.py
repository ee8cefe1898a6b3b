"""Finding the real Postgres and RabbitMQ the tests talk to, and isolating each test run.

URLs come from TEST_DATABASE_URL / TEST_AMQP_URL, else the local servers on their standard
ports, else testcontainers where Docker runs. If none is reachable the run stops with one line
saying what to start.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    return os.path.exists("/var/run/docker.sock")


def locate_postgres() -> str:
    """A server-level URL (database part ignored) for the Postgres the tests use."""
    url = os.environ.get("TEST_DATABASE_URL") or LOCAL_DATABASE_URL
    if reachable(url, 5432):
        return url
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine")
        container.start()
        return container.get_connection_url().replace("+psycopg2", "")
    raise RuntimeError(
        f"Postgres is not reachable at {url}: start it (e.g. `pg_ctlcluster 15 main start`) "
        "or set TEST_DATABASE_URL"
    )


def locate_rabbitmq() -> str:
    url = os.environ.get("TEST_AMQP_URL") or LOCAL_AMQP_URL
    if reachable(url, 5672):
        return url
    if _docker_available():
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.13-management")
        container.start()
        return f"amqp://guest:guest@{container.get_container_host_ip()}:{container.get_exposed_port(5672)}/"
    raise RuntimeError(
        f"RabbitMQ is not reachable at {url}: start it (e.g. `rabbitmq-server -detached`) "
        "or set TEST_AMQP_URL"
    )


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def create_database(server_url: str, prefix: str = "tocsin_test") -> str:
    """Create a fresh, uniquely named database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(with_database(server_url, "postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return with_database(server_url, name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")

    async def drop() -> None:
        conn = await asyncpg.connect(with_database(url, "postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    with suppress(Exception):
        asyncio.run(drop())


_run_tag: list[str] = []


def run_prefix() -> str:
    """`tocsin-test-<hex>`: the prefix of every broker name this test run creates."""
    if not _run_tag:
        _run_tag.append(uuid.uuid4().hex[:6])
    return f"tocsin-test-{_run_tag[0]}"


def unique_namespace() -> str:
    return f"{run_prefix()}-{uuid.uuid4().hex[:8]}"


def _rabbitmqctl_names(kind: str) -> list[str]:
    try:
        listing = subprocess.run(
            ["rabbitmqctl", "-q", f"list_{kind}", "name"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.stdout.splitlines() if line.strip()]


def sweep_broker(amqp_url: str, prefix: str) -> int:
    """Delete every queue and exchange whose name starts with `prefix` (what a test left
    behind after a failure or a kill). Needs the local `rabbitmqctl` to list names; without
    it nothing is swept. Returns how many objects were deleted."""
    queues = [n for n in _rabbitmqctl_names("queues") if n.startswith(prefix)]
    exchanges = [n for n in _rabbitmqctl_names("exchanges") if n.startswith(prefix)]
    if not queues and not exchanges:
        return 0

    async def delete() -> None:
        connection = await aio_pika.connect(amqp_url)
        try:
            for name in queues:
                channel = await connection.channel()
                with suppress(Exception):
                    await channel.queue_delete(name)
            for name in exchanges:
                channel = await connection.channel()
                with suppress(Exception):
                    await channel.exchange_delete(name)
        finally:
            await connection.close()

    with suppress(Exception):
        asyncio.run(delete())
    return len(queues) + len(exchanges)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
