"""This instance's queue on the broker and the per-user bindings that fill it.

The instance owns one exclusive, auto-deleted queue `<ns>.realtime.<instance id>`. It is bound
to the broadcast key and to `realtime.push.all` from the start, and to `*.*.<user key>` for each
user it holds a socket of: the binding is added before the user's first socket is told it is
connected, and removed `grace_s` after the user's last socket closed (a reconnect within the
grace costs no broker round trip). So each instance receives the events of its own users, not
every event of every user.

Bindings are RPCs the broker answers in a few milliseconds each; they are spread over a few
channels so that many users arriving at once are bound in parallel, and on each channel the
users arriving while a batch is in flight are bound together in the next (`bindings`). The
connection is aio-pika's robust one: after a broker restart it re-declares the queue, resumes
consuming, and this class binds again every user it holds. Messages are consumed without acks:
a socket that misses an event because an instance died catches up with `since`; so does one
whose instance lost its queue in a broker restart (events published while the queue was gone
reach no one here): `on_reconnected` lets the runtime close those sockets with 1012.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractQueue, AbstractRobustChannel, AbstractRobustConnection
from aiormq.abc import DeliveredMessage

from contracts.realtime import REALTIME_PUSH
from contracts.topology import BROADCAST_BINDING, Topology, binding_for_user, routing_key
from messaging.topology import declare_events_exchange
from services.realtime.bindings import BindingBatcher

logger = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes, str | None], None]
"""Called with (routing key, body, message id) for every message, in arrival order."""


class Subscription:
    def __init__(
        self,
        amqp_url: str,
        topology: Topology,
        instance_id: str,
        grace_s: float,
        handler: MessageHandler,
        bind_channels: int = 8,
    ) -> None:
        self.amqp_url = amqp_url
        self.topology = topology
        self.queue_name = topology.realtime_queue(instance_id)
        self.grace_s = grace_s
        self._handler = handler
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._bind_channel_count = bind_channels
        self._bind_channels: list[AbstractRobustChannel] = []
        self._batchers: list[BindingBatcher] = []
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._bound: dict[str, asyncio.Future[None]] = {}
        self._releases: dict[str, asyncio.TimerHandle] = {}
        self._unbinding: dict[str, asyncio.Task[None]] = {}
        self.binds = 0
        self.unbinds = 0
        self.on_reconnected: Callable[[], None] | None = None
        self.on_unbound: Callable[[str], None] | None = None
        """Called with a user id when this instance stops holding the user's binding."""
        """Called once the queue is consumed and every user bound again after a reconnect."""

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self._connection.channel()
        assert isinstance(channel, AbstractRobustChannel)
        self._channel = channel
        await declare_events_exchange(channel, self.topology)
        self._queue = await channel.declare_queue(
            self.queue_name, exclusive=True, auto_delete=True, durable=False
        )
        await self._queue.bind(self.topology.events_exchange, BROADCAST_BINDING)
        await self._queue.bind(self.topology.events_exchange, routing_key(REALTIME_PUSH, "*"))
        for _ in range(self._bind_channel_count):
            bind_channel = await self._connection.channel()
            assert isinstance(bind_channel, AbstractRobustChannel)
            self._bind_channels.append(bind_channel)
            self._batchers.append(BindingBatcher(self._binder(bind_channel)))
        await self._consume()
        self._connection.reconnect_callbacks.add(self._on_reconnect)
        logger.info("consuming queue=%s", self.queue_name)

    async def _consume(self) -> None:
        # Straight on the protocol channel: aio-pika's message objects cost more than the rest
        # of the delivery. The robust channel re-declares the queue after a reconnect, and
        # `_on_reconnect` consumes again.
        assert self._channel is not None
        underlay = await self._channel.get_underlay_channel()
        ok = await underlay.basic_consume(self.queue_name, self._on_delivery, no_ack=True)
        self._consumer_tag = ok.consumer_tag

    async def _on_delivery(self, message: DeliveredMessage) -> None:
        self._handler(message.routing_key or "", message.body, message.header.properties.message_id)

    async def _on_reconnect(self, *_: object) -> None:
        if self._consumer_tag is not None:
            await self._consume()
        users = [u for u, bound in self._bound.items() if bound.done() and not bound.exception()]
        logger.warning("broker reconnected: binding %d users again", len(users))
        for start in range(0, len(users), 256):
            await asyncio.gather(
                *(self._queue_bind(u, unbind=False) for u in users[start : start + 256]),
                return_exceptions=True,
            )
        if self.on_reconnected is not None:
            self.on_reconnected()

    def _binder(self, channel: AbstractRobustChannel) -> Callable[[list[str]], Awaitable[None]]:
        """Binds a batch of keys on `channel` (see `bindings`): no-wait binds, then one that
        waits, which the broker answers only after every earlier method of the channel."""

        async def bind_batch(keys: list[str]) -> None:
            underlay = await channel.get_underlay_channel()
            exchange = self.topology.events_exchange
            for key in keys[:-1]:
                await underlay.queue_bind(self.queue_name, exchange, key, nowait=True)
            await underlay.queue_bind(self.queue_name, exchange, keys[-1])

        return bind_batch

    def _channel_index(self, user_id: str) -> int:
        # One channel per user: an unbind and a later bind of the same user keep their order.
        return hash(user_id) % len(self._bind_channels)

    async def _queue_bind(self, user_id: str, unbind: bool) -> None:
        channel = self._bind_channels[self._channel_index(user_id)]
        underlay = await channel.get_underlay_channel()
        key = binding_for_user(user_id)
        if unbind:
            await underlay.queue_unbind(self.queue_name, self.topology.events_exchange, key)
        else:
            await underlay.queue_bind(self.queue_name, self.topology.events_exchange, key)

    async def bind_key(self, key: str) -> None:
        """Bind a raw binding key (a channel's, see `channel_bindings`); raises what the broker
        raised. Keys are not bound again after a broker reconnect: `on_reconnected` closes
        every socket, and their clients subscribe again."""
        await self._batchers[self._channel_index(key)].bind(key)

    async def unbind_key(self, key: str) -> None:
        channel = self._bind_channels[self._channel_index(key)]
        underlay = await channel.get_underlay_channel()
        await underlay.queue_unbind(self.queue_name, self.topology.events_exchange, key)

    @property
    def ready(self) -> bool:
        return (
            self._connection is not None
            and not self._connection.is_closed
            and self._channel is not None
            and not self._channel.is_closed
            and self._consumer_tag is not None
        )

    async def acquire(self, user_id: str) -> None:
        """Make sure this instance receives `user_id`'s events; returns once the broker bound it.

        Raises whatever the broker raised when the binding failed.
        """
        release = self._releases.pop(user_id, None)
        if release is not None:
            release.cancel()
        unbinding = self._unbinding.get(user_id)
        if unbinding is not None:
            await asyncio.shield(unbinding)
        bound = self._bound.get(user_id)
        if bound is None:
            bound = asyncio.get_running_loop().create_future()
            self._bound[user_id] = bound
            try:
                batcher = self._batchers[self._channel_index(user_id)]
                await batcher.bind(binding_for_user(user_id))
                self.binds += 1
                bound.set_result(None)
            except BaseException as exc:
                self._bound.pop(user_id, None)
                bound.set_exception(exc)
                bound.exception()  # retrieved: other waiters re-raise it themselves
                raise
        await asyncio.shield(bound)

    def release(self, user_id: str) -> None:
        """The user's last socket here closed: unbind after the grace period."""
        if user_id in self._releases:
            return
        if user_id not in self._bound:
            self._unbound(user_id)
            return
        loop = asyncio.get_running_loop()
        self._releases[user_id] = loop.call_later(self.grace_s, self._unbind_later, user_id)

    def _unbind_later(self, user_id: str) -> None:
        self._releases.pop(user_id, None)
        bound = self._bound.pop(user_id, None)
        self._unbound(user_id)
        if bound is None or self._queue is None:
            return
        task = asyncio.get_running_loop().create_task(self._unbind(user_id))
        self._unbinding[user_id] = task

    def _unbound(self, user_id: str) -> None:
        if self.on_unbound is not None:
            self.on_unbound(user_id)

    async def _unbind(self, user_id: str) -> None:
        try:
            await self._queue_bind(user_id, unbind=True)
            self.unbinds += 1
        except Exception:
            logger.warning("unbind failed user_id=%s", user_id, exc_info=True)
        finally:
            self._unbinding.pop(user_id, None)

    def bound_users(self) -> int:
        return len(self._bound)

    def bind_batches(self) -> int:
        """Round trips to the broker that bound users (each binds one or more)."""
        return sum(batcher.batches for batcher in self._batchers)

    async def stop_consuming(self) -> None:
        if self._channel is not None and self._consumer_tag is not None:
            tag, self._consumer_tag = self._consumer_tag, None
            try:
                underlay = await self._channel.get_underlay_channel()
                await asyncio.wait_for(underlay.basic_cancel(tag), 3)
            except Exception:
                logger.warning("cancelling the consumer failed", exc_info=True)

    async def close(self) -> None:
        for handle in self._releases.values():
            handle.cancel()
        self._releases.clear()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
