"""Publishes `delivery.succeeded` / `delivery.failed` for the notification service to record.

The outcome's event id is derived from the source event id, so publishing the same outcome
twice (after a crash between the confirm and the bookkeeping) yields the same event, which
the notification service drops as a duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aio_pika.abc import AbstractExchange

from contracts.events import DeliveryOutcome, EventEnvelope, EventType
from contracts.notifications import Channel
from contracts.topology import routing_key
from messaging.publisher import envelope_message, publish_confirmed

_OUTCOME_NAMESPACE = uuid.UUID("4b8f2f0e-7a55-4d0c-8f43-1d6f6b2e9c31")


@dataclass(frozen=True)
class OutcomePublisher:
    exchange: Callable[[], AbstractExchange]
    """The events exchange on the consumer's confirm channel, as it is now
    (`QueueConsumer.current_exchange`)."""
    timeout_s: float = 10.0

    async def publish(
        self,
        *,
        succeeded: bool,
        source_event_id: str,
        notification_id: str,
        user_id: str,
        attempts: int,
        detail: str | None,
        target: str | None,
        at: datetime,
    ) -> EventEnvelope:
        """Publish with confirms; raises PublishNotConfirmed / Unroutable, or NotConsuming
        while the consumer has no broker session."""
        event_type = EventType.DELIVERY_SUCCEEDED if succeeded else EventType.DELIVERY_FAILED
        outcome = DeliveryOutcome(
            notification_id=notification_id,
            source_event_id=source_event_id,
            channel=Channel.EMAIL,
            attempts=max(attempts, 1),
            detail=detail,
            target=target,
        )
        envelope = EventEnvelope(
            event_id=str(uuid.uuid5(_OUTCOME_NAMESPACE, f"{source_event_id}:email:{event_type}")),
            type=event_type,
            occurred_at=at,
            user_id=user_id,
            data=outcome.model_dump(mode="json"),
        )
        await publish_confirmed(
            self.exchange(),
            envelope_message(envelope),
            routing_key(event_type, user_id),
            mandatory=False,
            timeout=self.timeout_s,
        )
        return envelope
