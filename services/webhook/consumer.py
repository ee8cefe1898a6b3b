"""The AMQP edge of the webhook service: its queue and the retry policy.

The handler parses a message into an `EventEnvelope` and calls `Deliverer.handle`; a body that
is not an event is a `PermanentFailure` (dead-lettered with reason `invalid_event`). Acks,
retries and dead-lettering are `messaging.consuming.RetryingConsumer`'s job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pydantic import ValidationError

from contracts.events import EVENT_DATA_MODELS, NOTIFICATION_EVENT_TYPES, event_from_json
from contracts.headers import is_forced
from contracts.topology import BROADCAST_BINDING, Topology, binding_for_type
from messaging.consuming import PermanentFailure, RetryingConsumer
from messaging.topology import ConsumerSpec, declare_consumer, declare_events_exchange
from observability.tracing import trace_from_headers, use_trace
from services.webhook.delivery import Deliverer
from services.webhook.metrics import Metrics
from services.webhook.settings import DEFAULT_RETRY_DELAYS_MS

logger = logging.getLogger(__name__)

CONSUMER_NAME = "webhook"
STOP_GRACE_S = 20.0


def consumer_spec(
    topology: Topology,
    retry_delays_ms: Sequence[int] = DEFAULT_RETRY_DELAYS_MS,
    delivery_limit: int = 20,
    prefetch: int = 32,
    retry_jitter: float = 0.1,
) -> ConsumerSpec:
    """Queue `<ns>.webhook`, bound to every per-user notification event type and broadcasts."""
    bindings = [binding_for_type(t.value) for t in NOTIFICATION_EVENT_TYPES]
    return ConsumerSpec(
        name=CONSUMER_NAME,
        exchange=topology.events_exchange,
        bindings=[*bindings, BROADCAST_BINDING],
        retry_delays_ms=tuple(retry_delays_ms),
        delivery_limit=delivery_limit,
        prefetch=prefetch,
        retry_jitter=retry_jitter,
    )


class WebhookConsumer:
    """Consumes `<ns>.webhook` on its own channel (publisher confirms on)."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        topology: Topology,
        spec: ConsumerSpec,
        deliverer: Deliverer,
        metrics: Metrics,
    ) -> None:
        self.connection = connection
        self.topology = topology
        self.spec = spec
        self.deliverer = deliverer
        self.metrics = metrics
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self.spec.prefetch)
        await declare_events_exchange(channel, self.topology)
        self._queue = await declare_consumer(channel, self.topology, self.spec)
        self._channel = channel
        consumer = RetryingConsumer(
            channel, self.topology, self.spec, self._handle, on_outcome=self._count
        )
        self._tag = await self._queue.consume(consumer)
        logger.info("webhook consumer started", extra={"queue": self._queue.name})

    async def stop(self) -> None:
        """Stop taking messages, let in-flight deliveries finish (bounded), close the channel;
        whatever was not acked is redelivered to another copy."""
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except Exception:
                logger.warning("could not cancel the webhook consumer", exc_info=True)
        try:
            await asyncio.wait_for(self._idle.wait(), STOP_GRACE_S)
        except TimeoutError:
            logger.warning("stopping with %d deliveries in flight", self._in_flight)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    @property
    def ready(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    async def _handle(self, message: AbstractIncomingMessage, attempt: int) -> None:
        with use_trace(trace_from_headers(message.headers)):
            try:
                envelope = event_from_json(message.body)
                envelope.data_as(EVENT_DATA_MODELS[envelope.type])
            except ValidationError as exc:
                raise PermanentFailure("invalid_event", str(exc)[:500]) from exc
            # A forced replay re-sends what was delivered before, once: its retries must not
            # re-send to the endpoints that succeeded during the replay.
            force = is_forced(dict(message.headers or {})) and attempt == 1
            self._in_flight += 1
            self._idle.clear()
            try:
                await self.deliverer.handle(envelope, attempt, force=force)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

    def _count(self, outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
        self.metrics.messages.labels(outcome, reason or "").inc()
