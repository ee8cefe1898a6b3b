"""Broker events as a producer sends them, for tests (and benches) that publish directly."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from contracts.events import EventEnvelope, EventType, NotificationCreated
from contracts.notifications import Channel, NotificationData, Recipient


def created_envelope(
    notification: NotificationData,
    recipient: Recipient,
    channels: Iterable[Channel],
    *,
    seq: int = 1,
) -> EventEnvelope:
    """The `notification.created` envelope of `notification` for `recipient` on `channels`."""
    data = NotificationCreated(
        notification=notification, recipient=recipient, channels=list(channels)
    )
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=EventType.NOTIFICATION_CREATED,
        occurred_at=datetime.now(UTC),
        user_id=recipient.user_id,
        seq=seq,
        data=data.model_dump(mode="json"),
    )
