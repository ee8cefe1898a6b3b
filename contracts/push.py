"""What the push service shares with the rest of Tocsin: its consumer name, the events it
listens to, the device kinds and the payload a browser's service worker receives.

The payload is the JSON a push carries to a device (encrypted end to end for Web Push): the
service worker in `clients/web/src/push-sw.ts` reads exactly these fields.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import EventType
from contracts.notifications import Priority

PUSH_CONSUMER = "push"
"""Its queue is `<ns>.push`, with `<ns>.push.delay.<ms>` and `<ns>.push.dlq`."""

PUSH_EVENT_TYPES: tuple[EventType, ...] = (
    EventType.NOTIFICATION_CREATED,
    EventType.NOTIFICATION_READ,
    EventType.NOTIFICATION_READ_ALL,
    EventType.NOTIFICATION_DELETED,
)
"""`created` schedules a push; the others cancel a push still waiting for its delay."""

PUSH_API_PREFIX = "/api/v1/push"
"""Served by the push service; the gateway routes this prefix to it."""


class DeviceKind(StrEnum):
    WEB = "web"
    FCM = "fcm"
    APNS = "apns"


class PushPayload(BaseModel):
    """The JSON a device receives. `tag` is the same for pushes about the same entity, so a
    later one replaces an earlier one on screen."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(description="Notification id (to mark it read).")
    type: str
    priority: Priority
    title: str
    body: str = ""
    entity_url: str | None = None
    tag: str
    created_at: str
