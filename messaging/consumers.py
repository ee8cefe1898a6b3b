"""The one way a service consumes its queue: `QueueConsumer`.

A service says where to consume (`AMQP_URL`, its topology, its `ConsumerSpec`) when it builds
the consumer, and what to do with each message (a `messaging.consuming.Handler`) when it runs
it, for the duration of its lifespan:

    consumer = QueueConsumer(settings.amqp_url, topology, spec)
    await stack.enter_async_context(consumer.consuming(handler, on_outcome=count))

or, as a background worker that runs until cancelled, `await consumer.run(handler)`.

In the background it connects (to the first address of `AMQP_URL` that answers, see
`messaging.brokers`), declares the spec's exchange, its quorum queue with the retry and
dead-letter queues, sets the prefetch and consumes under the one retry policy
(`RetryingConsumer`). A broker that is not up yet is tried again every
`messaging.reconnecting.RECONNECT_DELAY_S`, so a service starts, answers /healthz and waits
for its broker instead of exiting; a broker lost later is reconnected to by the robust
connection, which declares and consumes again by itself; a session that fails is replaced by
a fresh one on a new connection. `ready` is true only while the consumer is on its queue,
which is what each service's /readyz reports.

Stopping cancels the consumer on the broker, lets the messages under way settle (at most
`stop_grace_s`), then closes the connection: what was not acked is redelivered to another
copy of the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from contracts.topology import Topology
from messaging.consuming import Handler, OutcomeListener, RetryingConsumer
from messaging.reconnecting import consume_until_cancelled
from messaging.topology import ConsumerSpec, declare_consumer, declare_exchange

logger = logging.getLogger(__name__)

DEFAULT_STOP_GRACE_S = 10.0


class NotConsuming(ConnectionError):
    """No broker session right now: the broker is not up yet, or the session was lost."""


@dataclass(frozen=True)
class _Session:
    channel: AbstractChannel
    exchange: AbstractExchange


class QueueConsumer:
    """One consumer kind's queue, consumed across broker outages (see the module docstring)."""

    def __init__(
        self,
        amqp_url: str,
        topology: Topology,
        spec: ConsumerSpec,
        *,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
    ) -> None:
        self.amqp_url = amqp_url
        self.topology = topology
        self.spec = spec
        self.stop_grace_s = stop_grace_s
        self._session: _Session | None = None

    @property
    def name(self) -> str:
        return f"{self.spec.name} consumer"

    @property
    def ready(self) -> bool:
        """True while consuming: declared, on the queue, and the channel is up."""
        return self._session is not None and not self._session.channel.is_closed

    def current_exchange(self) -> AbstractExchange:
        """The spec's exchange on the consuming channel (publisher confirms on). What the
        service publishes because of the messages it consumes (delivery outcomes) goes out
        through it. Raises NotConsuming between sessions."""
        if self._session is None:
            raise NotConsuming(f"{self.name} is not connected to RabbitMQ")
        return self._session.exchange

    async def run(self, handler: Handler, on_outcome: OutcomeListener | None = None) -> None:
        """Consume until cancelled, reconnecting as often as needed. On cancellation the
        messages under way settle first (at most `stop_grace_s`)."""

        async def session(channel: AbstractChannel) -> None:
            await self._consume(channel, handler, on_outcome)

        await consume_until_cancelled(self.amqp_url, self.name, session)

    @contextlib.asynccontextmanager
    async def consuming(
        self, handler: Handler, on_outcome: OutcomeListener | None = None
    ) -> AsyncIterator[QueueConsumer]:
        """`run` in a background task for the duration of the block; the block starts at
        once, whether the broker is up or not."""
        task = asyncio.create_task(self.run(handler, on_outcome), name=self.name)
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _consume(
        self, channel: AbstractChannel, handler: Handler, on_outcome: OutcomeListener | None
    ) -> None:
        spec = self.spec
        await channel.set_qos(prefetch_count=spec.prefetch)
        exchange = await declare_exchange(channel, spec.exchange)
        queue = await declare_consumer(channel, self.topology, spec)
        retrying = RetryingConsumer(channel, self.topology, spec, handler, on_outcome=on_outcome)
        tag = await queue.consume(retrying)
        self._session = _Session(channel, exchange)
        logger.info("%s started", self.name, extra={"queue": queue.name, "prefetch": spec.prefetch})
        try:
            await asyncio.Future()  # until cancelled; the robust connection reconnects by itself
        finally:
            self._session = None
            await self._settle(queue, tag, retrying)

    async def _settle(self, queue: AbstractQueue, tag: str, retrying: RetryingConsumer) -> None:
        """Take no more messages, then give those under way `stop_grace_s` to settle."""
        try:
            await queue.cancel(tag)
        except Exception as exc:  # the channel is gone already: nothing more will come
            logger.info("%s: cancel not sent (%s)", self.name, exc)
        if not await retrying.settled(self.stop_grace_s):
            logger.warning(
                "%s stopping with messages under way; the broker redelivers them", self.name
            )
