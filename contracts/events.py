"""Events that Tocsin publishes on the `events` exchange.

Every notification event travels in an `EventEnvelope`. The envelope carries the user's
counters after the change (`stats`) and a per-user, gap-free `seq`, so a consumer can draw a
badge and detect gaps from the event alone. Fields may be added in a later minor version; they
are never removed or renamed.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.channels import IncidentUpdated
from contracts.notifications import Channel, NotificationData, NotificationStats, Recipient

SCHEMA_VERSION = "1.0"

_M = TypeVar("_M", bound=BaseModel)


class EventType(StrEnum):
    NOTIFICATION_CREATED = "notification.created"
    NOTIFICATION_READ = "notification.read"
    NOTIFICATION_UNREAD = "notification.unread"
    NOTIFICATION_READ_ALL = "notification.read_all"
    NOTIFICATION_DELETED = "notification.deleted"
    NOTIFICATION_BROADCAST = "notification.broadcast"
    DELIVERY_SUCCEEDED = "delivery.succeeded"
    DELIVERY_FAILED = "delivery.failed"
    INCIDENT_UPDATED = "incident.updated"


NOTIFICATION_EVENT_TYPES: tuple[EventType, ...] = (
    EventType.NOTIFICATION_CREATED,
    EventType.NOTIFICATION_READ,
    EventType.NOTIFICATION_UNREAD,
    EventType.NOTIFICATION_READ_ALL,
    EventType.NOTIFICATION_DELETED,
)
"""Event types that belong to one user's stream and carry `seq` and `stats`."""

CHANNEL_EVENT_TYPES: tuple[EventType, ...] = (EventType.INCIDENT_UPDATED,)
"""Event types that belong to a channel: their envelope's `user_id` is the channel name, their
`seq` is in `data` (the channel's), and they are routed by channel key (contracts.channels)."""

SEQ_MAX = 2**63 - 1
"""The largest `seq` the event store can hold (a Postgres bigint)."""


class NotificationCreated(BaseModel):
    """`notification.created`: the notification, who it is for, where it must go."""

    model_config = ConfigDict(extra="ignore")

    notification: NotificationData
    recipient: Recipient
    channels: list[Channel] = Field(
        description="Channels resolved from the recipient's preferences at creation time."
    )


class NotificationRead(BaseModel):
    """`notification.read` and `notification.unread`."""

    model_config = ConfigDict(extra="ignore")

    id: str


class NotificationsReadAll(BaseModel):
    """`notification.read_all`: every unread notification of the user became read."""

    model_config = ConfigDict(extra="ignore")

    ids: list[str] = Field(description="The notifications that changed from unread to read.")


class NotificationDeleted(BaseModel):
    """`notification.deleted`."""

    model_config = ConfigDict(extra="ignore")

    id: str


class Announcement(BaseModel):
    """`notification.broadcast`: shown to every connected user; not stored per user."""

    model_config = ConfigDict(extra="ignore")

    notification: NotificationData


class DeliveryOutcome(BaseModel):
    """`delivery.succeeded` / `delivery.failed`, published by the email, webhook and push
    consumers."""

    model_config = ConfigDict(extra="ignore")

    notification_id: str
    source_event_id: str
    channel: Channel
    attempts: int = Field(ge=1)
    detail: str | None = None
    target: str | None = Field(
        default=None, description="Email address, webhook endpoint id or push device id."
    )


EVENT_DATA_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.NOTIFICATION_CREATED: NotificationCreated,
    EventType.NOTIFICATION_READ: NotificationRead,
    EventType.NOTIFICATION_UNREAD: NotificationRead,
    EventType.NOTIFICATION_READ_ALL: NotificationsReadAll,
    EventType.NOTIFICATION_DELETED: NotificationDeleted,
    EventType.NOTIFICATION_BROADCAST: Announcement,
    EventType.DELIVERY_SUCCEEDED: DeliveryOutcome,
    EventType.DELIVERY_FAILED: DeliveryOutcome,
    EventType.INCIDENT_UPDATED: IncidentUpdated,
}


class EventEnvelope(BaseModel):
    """The body of every message on the events exchange.

    `seq` and `stats` are set for the per-user notification events (see
    `NOTIFICATION_EVENT_TYPES`); for channel events (`CHANNEL_EVENT_TYPES`) `user_id` is the
    channel name and the channel's seq is in `data`; `position` is the global position in the
    event store, set for events published by the notification service's relay.
    """

    model_config = ConfigDict(extra="ignore")

    event_id: str
    type: EventType
    schema_version: str = SCHEMA_VERSION
    occurred_at: datetime
    user_id: str
    seq: int | None = Field(default=None, ge=1)
    position: int | None = Field(default=None, ge=1)
    data: dict[str, Any]
    stats: NotificationStats | None = None

    def data_as(self, model: builtins.type[_M]) -> _M:
        """Parse `data` as the given model; raises pydantic.ValidationError when it does not fit."""
        return model.model_validate(self.data)


def event_from_json(body: bytes | str) -> EventEnvelope:
    """Parse a message body; raises pydantic.ValidationError for anything that is not an event."""
    return EventEnvelope.model_validate_json(body)


def utc_now() -> datetime:
    return datetime.now(UTC)
