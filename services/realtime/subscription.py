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
connection is aio-pika's robust one: after a broker restart it re-declares the queue and its two
fixed bindings (the only ones declared through aio-pika's queue object). The per-user bindings
are this class's: after a reconnect it consumes again and binds every user it has a record of
again (bound, or with a bind in flight), through the same batches, and checks each answer; a
user whose bind failed loses its record (a handshake waiting for it fails), so its next
socket binds afresh. A handshake whose bind gets no answer within BIND_TIMEOUT_S (the broker
is away) closes its socket with 1012 rather than leaving it open without events.
Messages are consumed without acks: a socket that misses an event because an instance died
catches up with `since`; so does one whose instance lost its queue in a broker restart (events
published while the queue was gone reach no one here): `on_reconnected` lets the runtime close
every socket with 1012, whatever the restore achieved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import (
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)
from aiormq.abc import DeliveredMessage
from aiormq.channel import Channel as AmqpChannel

from contracts.realtime import REALTIME_PUSH
from contracts.topology import BROADCAST_BINDING, Topology, binding_for_user, routing_key
from messaging import brokers
from messaging.topology import declare_events_exchange
from services.realtime.bindings import BindingBatcher

logger = logging.getLogger(__name__)

BIND_TIMEOUT_S = 10.0
"""How long a socket's handshake waits for its binding (the broker may be away) before the
socket is closed with 1012 instead of being left open without events."""

RESTORE_TIMEOUT_S = 30.0
"""How long consuming and binding everyone again after a reconnect may take before every
record is dropped (each socket then binds afresh when its client reconnects)."""

MessageHandler = Callable[[str, bytes, str | None], None]
"""Called with (routing key, body, message id) for every message, in arrival order."""


class BindingLost(Exception):
    """The connection to the broker was lost (and the queue recreated) while binding a user."""


class Subscription:
    """The queue, its consumer and the per-user bindings (see the module's docstring).

    `on_reconnected` is called after every reconnect, once the queue is consumed and the users
    bound again (or that failed: it is called either way); `on_unbound` with a user id when
    this instance stops holding the user's binding.
    """

    def __init__(
        self,
        amqp_url: str,
        topology: Topology,
        instance_id: str,
        grace_s: float,
        handler: MessageHandler,
        bind_channels: int = 8,
        reconnect_interval_s: float = 5.0,
    ) -> None:
        self.amqp_url = amqp_url
        self.topology = topology
        self.queue_name = topology.realtime_queue(instance_id)
        self.grace_s = grace_s
        self._handler = handler
        self._reconnect_interval_s = reconnect_interval_s
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._bind_channel_count = bind_channels
        self._bind_channels: list[AbstractRobustChannel] = []
        self._batchers: list[BindingBatcher] = []
        self._queue: AbstractRobustQueue | None = None
        self._consumer_tag: str | None = None
        self._bound: dict[str, asyncio.Future[None]] = {}
        self._releases: dict[str, asyncio.TimerHandle] = {}
        self._unbinding: dict[str, asyncio.Task[None]] = {}
        self.binds = 0
        self.unbinds = 0
        self.reconnects = 0
        self._consuming = False
        self._restoring = asyncio.Lock()
        self.rebind_failures = 0
        self.on_reconnected: Callable[[], None] | None = None
        self.on_unbound: Callable[[str], None] | None = None

    async def start(self) -> None:
        self._connection = await brokers.connect_robust(
            self.amqp_url, reconnect_interval=self._reconnect_interval_s
        )
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
        self._consuming = True
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
        self.reconnects += 1
        await self._restore("broker reconnected", redeclare=False)

    async def _restore(self, why: str, redeclare: bool) -> None:
        """Consume again (re-declaring the queue first when it may be gone) and bind every user
        with a record again, then `on_reconnected`, whatever happened. aio-pika gathers
        reconnect callbacks with return_exceptions, so nothing raised here would be seen:
        failures are logged, and a user whose binding cannot be vouched for loses its record."""
        async with self._restoring:
            try:
                # Bounded: aio-pika awaits this callback before it finishes reconnecting.
                async with asyncio.timeout(RESTORE_TIMEOUT_S):
                    if redeclare and self._queue is not None:
                        await self._queue.restore()  # declare, and the two fixed bindings
                    if self._consuming:
                        await self._consume()
                    await self._bind_again(why)
            except Exception:
                logger.exception("%s: consuming or binding again failed", why)
                self._forget_bindings()
            finally:
                if self.on_reconnected is not None:
                    self.on_reconnected()

    async def check_consuming(self) -> bool:
        """True when this instance's consumer is on its queue. Otherwise (the queue was
        deleted, the channel closed and was reopened by aio-pika without our consumer) restore
        it as after a reconnect and return False. While the connection is down there is nothing
        to check: aio-pika's reconnect restores it."""
        connection, channel = self._connection, self._channel
        if not self._consuming or connection is None or channel is None:
            return True
        if connection.is_closed or not connection.connected.is_set() or channel.is_closed:
            return True
        underlay = await channel.get_underlay_channel()
        assert isinstance(underlay, AmqpChannel)
        if self._consumer_tag in underlay.consumers:
            return True
        logger.warning("not consuming queue=%s: declaring it and binding again", self.queue_name)
        await self._restore("consumer lost", redeclare=True)
        return False

    async def _bind_again(self, why: str) -> None:
        """Bind every user with a record (bound or in flight) on the new queue; a user whose
        bind fails loses its record, so that its next socket binds again."""
        users = list(self._bound)
        logger.warning("%s: binding %d users again", why, len(users))
        results = await asyncio.gather(
            *(self._batcher(u).bind(binding_for_user(u)) for u in users), return_exceptions=True
        )
        failed = [u for u, result in zip(users, results, strict=True) if result is not None]
        for user_id in failed:
            self._drop_record(user_id)
        if failed:
            self.rebind_failures += len(failed)
            logger.warning(
                "binding again failed for %d users", len(failed), extra={"users": failed[:20]}
            )

    def _forget_bindings(self) -> None:
        for user_id in list(self._bound):
            self._drop_record(user_id)

    def _drop_record(self, user_id: str) -> None:
        bound = self._bound.pop(user_id, None)
        if bound is not None and not bound.done():
            bound.set_exception(BindingLost(user_id))
            bound.exception()

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

    def _batcher(self, user_id: str) -> BindingBatcher:
        return self._batchers[self._channel_index(user_id)]

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

        Raises whatever the broker raised when the binding failed, TimeoutError when it did not
        answer within BIND_TIMEOUT_S, BindingLost when a reconnect meanwhile could not bind it.
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
                async with asyncio.timeout(BIND_TIMEOUT_S):
                    await self._batcher(user_id).bind(binding_for_user(user_id))
                self.binds += 1
                if not bound.done():  # else a reconnect meanwhile failed to bind it again
                    bound.set_result(None)
            except BaseException as exc:
                if self._bound.get(user_id) is bound:
                    del self._bound[user_id]
                if not bound.done():
                    bound.set_exception(exc)
                    bound.exception()  # retrieved: other waiters re-raise it themselves
                raise
        await asyncio.shield(bound)

    async def rebind(self, user_id: str) -> None:
        """Bind `user_id` again whatever this instance's record says (the self-check found its
        events missing). The record is dropped when the bind fails. Raises what the bind raised."""
        try:
            async with asyncio.timeout(BIND_TIMEOUT_S):
                await self._batcher(user_id).bind(binding_for_user(user_id))
        except Exception:
            self._drop_record(user_id)
            raise
        self.binds += 1
        if user_id not in self._bound:
            self._bound[user_id] = done = asyncio.get_running_loop().create_future()
            done.set_result(None)

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
            logger.warning("unbind failed", extra={"user_id": user_id}, exc_info=True)
        finally:
            self._unbinding.pop(user_id, None)

    def bound_users(self) -> int:
        return len(self._bound)

    def is_bound(self, user_id: str) -> bool:
        """True when this instance's record says the broker has bound the user."""
        bound = self._bound.get(user_id)
        return bound is not None and bound.done() and bound.exception() is None

    def bind_batches(self) -> int:
        """Round trips to the broker that bound users (each binds one or more)."""
        return sum(batcher.batches for batcher in self._batchers)

    async def stop_consuming(self) -> None:
        self._consuming = False
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
