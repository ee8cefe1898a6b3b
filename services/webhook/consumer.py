"""The AMQP edge of the webhook service: its queue and the retry policy.

The handler parses a message into an `EventEnvelope` and calls `Deliverer.handle`; a body that
is not an event is a `PermanentFailure` (dead-lettered with reason `invalid_event`).
Connecting, declaring and reconnecting are `messaging.consumers.QueueConsumer`'s job; acks,
retries and dead-lettering are `messaging.consuming.RetryingConsumer`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from contracts.events import EVENT_DATA_MODELS, NOTIFICATION_EVENT_TYPES, event_from_json
from contracts.headers import is_forced
from contracts.topology import BROADCAST_BINDING, Topology, binding_for_type
from messaging.consuming import PermanentFailure
from messaging.topology import ConsumerSpec
from observability.tracing import trace_from_headers, use_trace
from services.webhook.delivery import Deliverer
from services.webhook.metrics import Metrics
from services.webhook.settings import DEFAULT_RETRY_DELAYS_MS

CONSUMER_NAME = "webhook"
STOP_GRACE_S = 20.0
"""How long the deliveries under way may take to finish when the service stops."""


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


class WebhookHandler:
    """The handler `QueueConsumer` runs on every message of `<ns>.webhook`, and its outcome
    counter."""

    def __init__(self, deliverer: Deliverer, metrics: Metrics) -> None:
        self.deliverer = deliverer
        self.metrics = metrics

    async def __call__(self, message: AbstractIncomingMessage, attempt: int) -> None:
        with use_trace(trace_from_headers(message.headers)):
            try:
                envelope = event_from_json(message.body)
                envelope.data_as(EVENT_DATA_MODELS[envelope.type])
            except ValidationError as exc:
                raise PermanentFailure("invalid_event", str(exc)[:500]) from exc
            # A forced replay re-sends what was delivered before, once: its retries must not
            # re-send to the endpoints that succeeded during the replay.
            force = is_forced(dict(message.headers or {})) and attempt == 1
            await self.deliverer.handle(envelope, attempt, force=force)

    def count(self, outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
        self.metrics.messages.labels(outcome, reason or "").inc()
