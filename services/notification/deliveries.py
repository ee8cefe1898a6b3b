"""Delivery status per notification and channel, recorded from `delivery.*` events.

The email and webhook consumers publish `delivery.succeeded` / `delivery.failed`
(contracts.DeliveryOutcome). This module consumes them from the quorum queue
`<ns>.notification-deliveries` (bound to `delivery.succeeded.*` and `delivery.failed.*`) and
keeps the latest outcome per (notification, channel, target): an outcome older than the one
recorded never overwrites it. Idempotent by event id (`processed_delivery_events`, written in
the same transaction). `GET /api/v1/notifications/{id}` shows the result as `deliveries`.
"""

from __future__ import annotations

import logging

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import DeliveryOutcome, EventEnvelope, EventType, event_from_json
from contracts.topology import Topology, binding_for_type
from messaging.consumers import QueueConsumer
from messaging.consuming import PermanentFailure
from messaging.topology import ConsumerSpec
from services.notification.tables import deliveries, processed_delivery_events

logger = logging.getLogger(__name__)

CONSUMER_NAME = "notification-deliveries"
STATUS_OF = {EventType.DELIVERY_SUCCEEDED: "succeeded", EventType.DELIVERY_FAILED: "failed"}


def consumer_spec(topology: Topology) -> ConsumerSpec:
    return ConsumerSpec(
        name=CONSUMER_NAME,
        exchange=topology.events_exchange,
        bindings=[
            binding_for_type(EventType.DELIVERY_SUCCEEDED),
            binding_for_type(EventType.DELIVERY_FAILED),
        ],
    )


async def record_outcome(engine: AsyncEngine, envelope: EventEnvelope) -> bool:
    """Record a delivery outcome; False when this event was recorded before.
    Raises pydantic.ValidationError / KeyError for an event that is not an outcome."""
    status = STATUS_OF[envelope.type]
    outcome = envelope.data_as(DeliveryOutcome)
    async with engine.begin() as connection:
        first = await connection.execute(
            insert(processed_delivery_events)
            .values(event_id=envelope.event_id, processed_at=envelope.occurred_at)
            .on_conflict_do_nothing()
            .returning(processed_delivery_events.c.event_id)
        )
        if first.first() is None:
            return False
        statement = insert(deliveries).values(
            notification_id=outcome.notification_id,
            channel=outcome.channel.value,
            target=outcome.target or "",
            user_id=envelope.user_id,
            status=status,
            attempts=outcome.attempts,
            detail=outcome.detail,
            at=envelope.occurred_at,
            event_id=envelope.event_id,
        )
        changed = ("user_id", "status", "attempts", "detail", "at", "event_id")
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    deliveries.c.notification_id,
                    deliveries.c.channel,
                    deliveries.c.target,
                ],
                set_={name: statement.excluded[name] for name in changed},
                where=deliveries.c.at <= statement.excluded.at,
            )
        )
    return True


class DeliveryHandler:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def __call__(self, message: AbstractIncomingMessage, attempt: int) -> None:
        try:
            envelope = event_from_json(message.body)
        except (ValidationError, ValueError) as exc:
            raise PermanentFailure("invalid_message", str(exc)[:500]) from None
        if envelope.type not in STATUS_OF:
            raise PermanentFailure("unknown_event_type", f"type {envelope.type!r}")
        try:
            recorded = await record_outcome(self.engine, envelope)
        except ValidationError as exc:
            raise PermanentFailure("invalid_payload", str(exc)[:500]) from None
        logger.info(
            "delivery outcome recorded" if recorded else "duplicate delivery outcome",
            extra={"event_id": envelope.event_id, "user_id": envelope.user_id},
        )


async def consume_deliveries(engine: AsyncEngine, amqp_url: str, topology: Topology) -> None:
    """Consume until cancelled; reconnect after the broker goes away or was never there."""
    await QueueConsumer(amqp_url, topology, consumer_spec(topology)).run(DeliveryHandler(engine))
