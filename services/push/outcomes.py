"""`delivery.succeeded` / `delivery.failed`, one per (notification, device), for the
notification service's delivery status.

A send row remembers that its outcome went out; rows whose outcome is not yet confirmed are
published on the next round, with the same event id (derived from notification, device and
outcome), so the notification service drops a re-publish.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aio_pika.abc import AbstractExchange

from contracts.events import DeliveryOutcome, EventEnvelope, EventType, utc_now
from contracts.notifications import Channel
from contracts.topology import routing_key
from messaging.publisher import envelope_message, publish_confirmed

OUTCOME_NAMESPACE = uuid.UUID("0d6f3c55-2b7e-4f4e-9a1c-6e2f9b8a4d17")


@dataclass(frozen=True)
class FinishedSend:
    notification_id: str
    device_id: str
    user_id: str
    source_event_id: str
    succeeded: bool
    attempts: int
    detail: str | None


def outcome_envelope(send: FinishedSend) -> EventEnvelope:
    event_type = EventType.DELIVERY_SUCCEEDED if send.succeeded else EventType.DELIVERY_FAILED
    outcome = DeliveryOutcome(
        notification_id=send.notification_id,
        source_event_id=send.source_event_id,
        channel=Channel.PUSH,
        attempts=max(1, send.attempts),
        detail=send.detail,
        target=send.device_id,
    )
    key = f"{send.notification_id}:{send.device_id}:{event_type.value}"
    return EventEnvelope(
        event_id=str(uuid.uuid5(OUTCOME_NAMESPACE, key)),
        type=event_type,
        occurred_at=utc_now(),
        user_id=send.user_id,
        data=outcome.model_dump(mode="json"),
    )


@dataclass(frozen=True)
class OutcomePublisher:
    exchange: Callable[[], AbstractExchange]
    """The events exchange on the consumer's confirm channel, as it is now
    (`QueueConsumer.current_exchange`)."""

    async def publish(self, send: FinishedSend) -> None:
        """Raises PublishNotConfirmed, or NotConsuming while the consumer has no broker
        session (the outcome stays pending for the next round). Not `mandatory`: nobody
        listening is not our error."""
        envelope = outcome_envelope(send)
        await publish_confirmed(
            self.exchange(),
            envelope_message(envelope),
            routing_key(envelope.type.value, envelope.user_id),
            mandatory=False,
        )
