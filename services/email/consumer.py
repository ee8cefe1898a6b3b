"""The AMQP edge of the email consumer: parse the message, call the service layer, and map its
errors onto the retry policy (`messaging.consuming.RetryingConsumer` acks, retries or
dead-letters)."""

from __future__ import annotations

from collections.abc import Sequence

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from contracts.events import EventEnvelope, EventType, event_from_json
from contracts.headers import is_forced
from contracts.topology import Topology, binding_for_type
from messaging.consuming import Handler, PermanentFailure, RetryLater
from messaging.topology import DEFAULT_DELIVERY_LIMIT, ConsumerSpec
from observability.tracing import trace_from_headers, use_trace
from services.email.delivery import Deferred, EmailDelivery, Rejected

CONSUMER_NAME = "email"
RETRY_DELAYS_MS: tuple[int, ...] = (1_000, 5_000, 30_000, 300_000, 1_800_000)


def consumer_spec(
    topology: Topology,
    retry_delays_ms: Sequence[int] = RETRY_DELAYS_MS,
    prefetch: int = 16,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
) -> ConsumerSpec:
    """Queue `<ns>.email`, bound to every `notification.created` event."""
    return ConsumerSpec(
        name=CONSUMER_NAME,
        exchange=topology.events_exchange,
        bindings=[binding_for_type(EventType.NOTIFICATION_CREATED)],
        retry_delays_ms=tuple(retry_delays_ms),
        delivery_limit=delivery_limit,
        prefetch=prefetch,
    )


def parse(message: AbstractIncomingMessage) -> EventEnvelope:
    """Raises PermanentFailure for a body that is not an event (poison)."""
    try:
        return event_from_json(message.body)
    except (ValidationError, ValueError) as exc:
        raise PermanentFailure("invalid_message", str(exc)[:500]) from exc


def make_handler(delivery: EmailDelivery) -> Handler:
    async def handle(message: AbstractIncomingMessage, attempt: int) -> None:
        with use_trace(trace_from_headers(message.headers)):
            envelope = parse(message)
            try:
                await delivery.deliver(
                    envelope, attempt, force=is_forced(dict(message.headers or {}))
                )
            except Deferred as exc:
                raise RetryLater(exc.reason, exc.detail) from exc
            except Rejected as exc:
                raise PermanentFailure(exc.reason, exc.detail) from exc

    return handle
