"""`delivery.succeeded` / `delivery.failed` events, one per (notification, endpoint).

The notification service consumes them to show per-channel delivery status. They are
published with confirms before the source message is acked; a delivery row remembers that its
outcome went out, so a crash in between re-publishes it (same event id) rather than losing it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aio_pika.abc import AbstractExchange

from contracts.events import DeliveryOutcome, EventEnvelope, EventType, utc_now
from contracts.notifications import Channel
from contracts.topology import routing_key
from messaging.publisher import envelope_message, publish_confirmed
from observability.tracing import publish_headers
from services.webhook import ledger

OUTCOME_NAMESPACE = uuid.UUID("5f1c7e0e-3f43-4c1b-9a51-8f0d0c3b7a11")


def outcome_envelope(source: EventEnvelope, finished: ledger.FinishedDelivery) -> EventEnvelope:
    """The outcome event of one delivery. Its id is derived from the source event, the
    endpoint and the outcome, so a re-publish is a recognisable duplicate."""
    event_type = (
        EventType.DELIVERY_SUCCEEDED
        if finished.status == ledger.SUCCEEDED
        else EventType.DELIVERY_FAILED
    )
    outcome = DeliveryOutcome(
        notification_id=finished.notification_id or "",
        source_event_id=source.event_id,
        channel=Channel.WEBHOOK,
        attempts=max(1, finished.attempts),
        detail=finished.last_error,
        target=finished.endpoint_id,
    )
    key = f"{source.event_id}:{finished.endpoint_id}:{event_type.value}"
    return EventEnvelope(
        event_id=str(uuid.uuid5(OUTCOME_NAMESPACE, key)),
        type=event_type,
        occurred_at=utc_now(),
        user_id=source.user_id,
        data=outcome.model_dump(mode="json"),
    )


class OutcomeEvents:
    """Publishes outcome events on the consumer's confirm channel."""

    def __init__(self, exchange: Callable[[], AbstractExchange]) -> None:
        self.exchange = exchange
        """The events exchange as it is now (`QueueConsumer.current_exchange`)."""

    async def publish(self, source: EventEnvelope, finished: ledger.FinishedDelivery) -> None:
        """Raises PublishNotConfirmed when the broker does not confirm, NotConsuming while the
        consumer has no broker session. Not `mandatory`: an outcome nobody listens to is not
        an error of the webhook consumer."""
        envelope = outcome_envelope(source, finished)
        await publish_confirmed(
            self.exchange(),
            envelope_message(envelope, headers=publish_headers()),
            routing_key(envelope.type.value, envelope.user_id),
            mandatory=False,
        )
