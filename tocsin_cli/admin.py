"""`tocsin topology declare`, `tocsin migrate` and `tocsin relay partitions`: set-up of broker
and database."""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit, urlunsplit

import aiormq
import asyncpg

from database.engine import plain_url
from database.partitions import PartitionsMismatch, change_partitions, recorded_partitions
from messaging.topology import ConsumerSpec, declare_all
from tocsin_cli import registry
from tocsin_cli.connections import broker, database
from tocsin_cli.errors import CliError, redact
from tocsin_cli.settings import CliSettings

STATEFUL_SERVICES = ("notification", "email", "webhook", "push")


async def declare_topology(settings: CliSettings) -> tuple[list[ConsumerSpec], list[str]]:
    """Declare both exchanges and every installed consumer's queue, retry queues and DLQ.

    Returns (declared specs, notes about consumers that could not be declared).
    """
    specs: list[ConsumerSpec] = []
    notes: list[str] = []
    for entry in registry.durable_consumers():
        try:
            specs.append(registry.consumer_spec(entry.name, settings.topology))
        except registry.ConsumerNotInstalled as exc:
            notes.append(str(exc))
    async with broker(settings) as connection:
        channel = await connection.channel()
        try:
            await declare_all(channel, settings.topology, specs)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise CliError(
                f"the broker refused a declaration: {exc}. A queue's arguments are fixed when "
                "it is first declared: TOCSIN_QUORUM_GROUP_SIZE (and every other setting of "
                "the queues) must be what it was then"
            ) from exc
    return specs, notes


def migrate(settings: CliSettings) -> list[str]:
    """Apply every stateful service's migrations; returns the services migrated."""
    done = []
    for service in STATEFUL_SERVICES:
        try:
            module = importlib.import_module(f"services.{service}.migrations")
        except ModuleNotFoundError:
            continue
        try:
            module.upgrade(settings.database_url)
        except (OSError, asyncpg.PostgresError) as exc:
            raise CliError(
                f"migrating {service} failed at {redact(settings.database_url)}: {exc}"
            ) from exc
        done.append(service)
    return done


async def create_database(settings: CliSettings) -> bool:
    """Create the database named in DATABASE_URL when it does not exist; True if created."""
    url = plain_url(settings.database_url)
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise CliError("DATABASE_URL names no database")
    server = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    try:
        connection = await asyncpg.connect(server, timeout=settings.connect_timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise CliError(f"cannot reach Postgres at {redact(server)}: {exc}") from exc
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = name.replace('"', '""')
        await connection.execute(f'CREATE DATABASE "{quoted}"')
        return True
    finally:
        await connection.close()


async def relay_partitions(settings: CliSettings, count: int | None) -> str:
    """The number of relay partitions after the change (if any): see `tocsin relay partitions`."""
    async with database(settings) as db:
        if count is not None:
            try:
                await change_partitions(db, count)
            except PartitionsMismatch as exc:
                raise CliError(f"not changed: {exc}") from exc
        return f"relay partitions: {await recorded_partitions(db)}"
