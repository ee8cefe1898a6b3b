"""Channel presence changes between realtime instances, through the broker.

A `PresenceChange` is published non-persistent on the events exchange with routing key
`realtime.presence.<channel key>`: every instance with a subscriber of the channel has the
channel's binding and receives it (its own too). Nothing is confirmed or retried: a lost change
is corrected by the next `presence:members` a client gets when it subscribes again, and the
REST answer is always the store's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from contracts.channels import channel_key
from contracts.presence import PRESENCE_SIGNAL, PresenceChange, presence_routing_key
from contracts.topology import Topology
from messaging.topology import declare_events_exchange

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 2.0
QUEUE_MAX = 10_000


class PresenceRelay:
    """Publishes changes in order from one task, on its own broker connection."""

    def __init__(self, amqp_url: str, topology: Topology) -> None:
        self._amqp_url = amqp_url
        self._topology = topology
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._queue: asyncio.Queue[PresenceChange] = asyncio.Queue(QUEUE_MAX)
        self._sender: asyncio.Task[None] | None = None
        self.published = 0
        self.dropped = 0

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._amqp_url)
        channel = await self._connection.channel(publisher_confirms=False)
        self._exchange = await declare_events_exchange(channel, self._topology)
        self._sender = asyncio.get_running_loop().create_task(self._send_all())

    def publish(self, change: PresenceChange) -> None:
        try:
            self._queue.put_nowait(change)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _send_all(self) -> None:
        while True:
            change = await self._queue.get()
            try:
                await self._send(change)
            finally:
                self._queue.task_done()

    async def _send(self, change: PresenceChange) -> None:
        if self._exchange is None:
            return
        message = aio_pika.Message(
            body=change.model_dump_json().encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
            type=PRESENCE_SIGNAL,
        )
        key = presence_routing_key(channel_key(change.channel))
        try:
            await self._exchange.publish(message, key, timeout=PUBLISH_TIMEOUT_S)
            self.published += 1
        except Exception:
            self.dropped += 1
            logger.warning("presence change not published channel=%s", change.channel)

    async def close(self, drain_s: float = 1.0) -> None:
        """Stop, after sending what is queued (the leaves of a stopping instance), for at most
        `drain_s`."""
        if self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_s)
            self._sender.cancel()
            self._sender = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
