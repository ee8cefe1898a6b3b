"""Typing indicators: throttled here, relayed to every instance through the broker, never stored.

A socket's `typing` start is relayed at most once per `TYPING_THROTTLE_S` per user and channel
(on this instance), a stop only after a relayed start. The relay publishes a non-persistent
`TypingSignal` on the events exchange with routing key `realtime.typing.<channel key>`; every
instance with a subscriber of the channel has that channel's binding, so it receives the signal
(its own too) and shows it to the channel's subscribers except the sender's own sockets.
Nothing is confirmed or retried: a lost indicator is renewed by the next keystroke, and a
client drops an indicator `TYPING_EXPIRY_S` after the last start it saw.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from contracts.channels import (
    TYPING_SIGNAL,
    TYPING_THROTTLE_S,
    TypingSignal,
    TypingState,
    channel_key,
)
from contracts.topology import Topology
from messaging.topology import declare_events_exchange

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 2.0
QUEUE_MAX = 1000
THROTTLE_ENTRIES_MAX = 100_000


class TypingThrottle:
    """Decides which typing messages are relayed: at most one start per (user, channel) every
    `interval_s`, a stop only after a relayed start."""

    def __init__(
        self, interval_s: float = TYPING_THROTTLE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._started: dict[tuple[str, str], float] = {}

    def admit(self, user_id: str, channel: str, state: TypingState) -> bool:
        key = (user_id, channel)
        if state is TypingState.STOP:
            return self._started.pop(key, None) is not None
        now = self._clock()
        last = self._started.get(key)
        if last is not None and now - last < self._interval_s:
            return False
        if len(self._started) >= THROTTLE_ENTRIES_MAX:
            self._started.pop(next(iter(self._started)))
        self._started.pop(key, None)  # re-inserted last: the oldest entry is dropped first
        self._started[key] = now
        return True

    def forget(self, user_id: str, channel: str) -> None:
        self._started.pop((user_id, channel), None)


class TypingRelay:
    """Publishes typing signals in order from one task, on its own broker connection."""

    def __init__(self, amqp_url: str, topology: Topology) -> None:
        self._amqp_url = amqp_url
        self._topology = topology
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._queue: asyncio.Queue[TypingSignal] = asyncio.Queue(QUEUE_MAX)
        self._sender: asyncio.Task[None] | None = None
        self.published = 0
        self.dropped = 0

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._amqp_url)
        channel = await self._connection.channel(publisher_confirms=False)
        self._exchange = await declare_events_exchange(channel, self._topology)
        self._sender = asyncio.get_running_loop().create_task(self._send_all())

    def publish(self, signal: TypingSignal) -> None:
        try:
            self._queue.put_nowait(signal)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _send_all(self) -> None:
        while True:
            signal = await self._queue.get()
            exchange = self._exchange
            if exchange is None:
                continue
            message = aio_pika.Message(
                body=signal.model_dump_json().encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
                type=TYPING_SIGNAL,
            )
            key = f"{TYPING_SIGNAL}.{channel_key(signal.channel)}"
            try:
                await exchange.publish(message, key, timeout=PUBLISH_TIMEOUT_S)
                self.published += 1
            except Exception:
                self.dropped += 1
                logger.warning(
                    "typing signal not published channel=%s", signal.channel, exc_info=True
                )

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
