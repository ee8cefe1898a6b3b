"""Connections to RabbitMQ and Postgres that fail with a clear CliError, never a traceback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue

from database.engine import plain_url
from messaging import brokers
from tocsin_cli.errors import CliError, redact
from tocsin_cli.settings import CliSettings


@asynccontextmanager
async def broker(settings: CliSettings) -> AsyncIterator[AbstractConnection]:
    """A plain (not robust) connection: an operator command should fail, not reconnect."""
    try:
        connection = await brokers.connect(settings.amqp_url, timeout=settings.connect_timeout_s)
    except brokers.BrokerUnreachable as exc:
        raise CliError(f"{exc} (is it running? set AMQP_URL)") from exc
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    try:
        yield connection
    finally:
        await connection.close()


@asynccontextmanager
async def database(settings: CliSettings) -> AsyncIterator[asyncpg.Connection]:
    url = plain_url(settings.database_url)
    try:
        connection = await asyncpg.connect(url, timeout=settings.connect_timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise CliError(
            f"cannot reach Postgres at {redact(url)}: {exc or type(exc).__name__}"
            " (check DATABASE_URL; `tocsin migrate --create-database` creates a missing database)"
        ) from exc
    try:
        yield connection
    finally:
        await connection.close()


async def existing_queue(
    connection: AbstractConnection,
    name: str,
    hint: str = "run `tocsin topology declare`",
    *,
    publisher_confirms: bool = False,
) -> tuple[AbstractChannel, AbstractQueue]:
    """A fresh channel and the queue `name`, declared passively; CliError when it does not exist.

    A failed passive declare closes its channel, hence one channel per check.
    """
    channel = await connection.channel(publisher_confirms=publisher_confirms)
    try:
        queue = await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelClosed as exc:
        raise CliError(f"queue {name!r} does not exist: {hint}") from exc
    return channel, queue


async def queue_depth(connection: AbstractConnection, name: str) -> tuple[int, int] | None:
    """(messages ready, consumers) of a queue, or None when it does not exist."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return None
    result = queue.declaration_result
    depth = (int(result.message_count or 0), int(result.consumer_count or 0))
    await asyncio.shield(channel.close())
    return depth
