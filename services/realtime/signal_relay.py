"""Non-persistent signals from one realtime instance to the others that hold a channel's
binding (typing indicators, channel presence changes), on the events exchange.

Signals are queued without waiting and published in order by one task, on the relay's own
broker connection, without confirms: nothing is retried, a lost signal is corrected by the
next one (or by what a client gets when it subscribes again). A full queue drops the signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from contracts.topology import Topology
from messaging import brokers
from messaging.topology import declare_events_exchange

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Signal:
    routing_key: str
    message_type: str
    body: bytes


class SignalRelay:
    def __init__(self, amqp_url: str, topology: Topology, queue_max: int) -> None:
        self._amqp_url = amqp_url
        self._topology = topology
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._queue: asyncio.Queue[Signal] = asyncio.Queue(queue_max)
        self._sender: asyncio.Task[None] | None = None
        self.published = 0
        self.dropped = 0

    async def start(self) -> None:
        self._connection = await brokers.connect_robust(self._amqp_url)
        channel = await self._connection.channel(publisher_confirms=False)
        self._exchange = await declare_events_exchange(channel, self._topology)
        self._sender = asyncio.get_running_loop().create_task(self._send_all())

    def send(self, signal: Signal) -> None:
        try:
            self._queue.put_nowait(signal)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _send_all(self) -> None:
        while True:
            signal = await self._queue.get()
            try:
                await self._publish(signal)
            finally:
                self._queue.task_done()

    async def _publish(self, signal: Signal) -> None:
        if self._exchange is None:
            return
        message = aio_pika.Message(
            body=signal.body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
            type=signal.message_type,
        )
        try:
            await self._exchange.publish(message, signal.routing_key, timeout=PUBLISH_TIMEOUT_S)
            self.published += 1
        except Exception:
            self.dropped += 1
            logger.warning(
                "signal not published type=%s key=%s",
                signal.message_type,
                signal.routing_key,
                exc_info=True,
            )

    async def close(self, drain_s: float = 1.0) -> None:
        """Stop, after publishing what is queued (a stopping instance's last signals), for at
        most `drain_s`."""
        if self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_s)
            self._sender.cancel()
            self._sender = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
