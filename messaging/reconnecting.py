"""Keeping a broker session alive across broker outages and its own failures.

Services consume through `messaging.consumers.QueueConsumer`, which runs its sessions here;
this loop is the part of it that knows nothing about queues."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractChannel

from messaging import brokers

logger = logging.getLogger(__name__)

RECONNECT_DELAY_S = 2.0

ConsumerSession = Callable[[AbstractChannel], Awaitable[None]]
"""Declares what it needs on the channel (confirms on), starts consuming, and waits until
cancelled. Any other exception ends the session; a fresh one starts on a new connection."""


async def consume_until_cancelled(amqp_url: str, name: str, session: ConsumerSession) -> None:
    """Run `session` until cancelled; reconnect (after RECONNECT_DELAY_S) when the broker goes
    away, was never there, or the session fails. `name` says which consumer in the logs."""
    while True:
        try:
            connection = await brokers.connect_robust(amqp_url, timeout=10)
        except Exception as exc:
            logger.warning("%s cannot reach RabbitMQ: %s", name, exc)
            await asyncio.sleep(RECONNECT_DELAY_S)
            continue
        try:
            channel = await connection.channel(publisher_confirms=True)
            await session(channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s failed; restarting", name)
            await asyncio.sleep(RECONNECT_DELAY_S)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
