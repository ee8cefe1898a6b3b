"""What goes out: which events an endpoint receives, and the body it receives.

The body follows Standard Webhooks' recommended shape: `type` (the event type), `timestamp`
(when the event occurred) and `data` (the whole `EventEnvelope`: event_id, user_id, seq,
stats and the event's own data, e.g. the notification for `notification.created`).
"""

from __future__ import annotations

import json

from contracts.events import EventEnvelope, EventType, NotificationCreated
from contracts.notifications import Channel
from contracts.timestamps import rfc3339


def wants(envelope: EventEnvelope) -> bool:
    """Created events go out only when their resolved channels include webhooks; the other
    notification events go to the endpoints subscribed to their type."""
    if envelope.type == EventType.NOTIFICATION_CREATED:
        return Channel.WEBHOOK in envelope.data_as(NotificationCreated).channels
    return envelope.type.value.startswith("notification.")


def notification_id_of(envelope: EventEnvelope) -> str | None:
    if envelope.type == EventType.NOTIFICATION_CREATED:
        return envelope.data_as(NotificationCreated).notification.id
    value = envelope.data.get("id")
    return value if isinstance(value, str) else None


def payload(envelope: EventEnvelope) -> bytes:
    """The JSON body every endpoint receives: Standard Webhooks' `type`/`timestamp`/`data`
    with the whole event envelope as `data`."""
    body = {
        "type": envelope.type.value,
        "timestamp": rfc3339(envelope.occurred_at),
        "data": envelope.model_dump(mode="json"),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
