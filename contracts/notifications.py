"""The notification itself, as every part of Tocsin sees it.

`NotificationData` keeps exactly the fields of the original WebSocket protocol; the browser
client renders it without translation.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Priority(StrEnum):
    """How loudly a notification should be delivered. `critical` overrides channel opt-outs."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Channel(StrEnum):
    """Where a notification can be delivered."""

    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"
    PUSH = "push"


# A notification type is a short identifier such as `incident_created`.
NOTIFICATION_TYPE_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"

TITLE_MAX = 200
MESSAGE_MAX = 2000
ENTITY_URL_MAX = 2048


class NotificationData(BaseModel):
    """One notification, exactly as the seed protocol's `notification:new` carries it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    type: str = Field(pattern=NOTIFICATION_TYPE_PATTERN)
    priority: Priority
    title: str = Field(max_length=TITLE_MAX)
    message: str = Field(default="", max_length=MESSAGE_MAX)
    entity_type: str | None = None
    entity_id: str | None = None
    entity_url: str | None = Field(default=None, max_length=ENTITY_URL_MAX)
    is_read: bool = False
    created_at: datetime


class NotificationStats(BaseModel):
    """A user's counters after a change; enough to draw the bell's badge."""

    model_config = ConfigDict(extra="ignore")

    total: int = Field(ge=0)
    unread: int = Field(ge=0)
    unread_by_priority: dict[Priority, int] = Field(default_factory=dict)


class Recipient(BaseModel):
    """Who a notification is for, resolved when it was created (event-carried state)."""

    model_config = ConfigDict(extra="ignore")

    user_id: str
    email: str | None = None
    name: str | None = None
    locale: str | None = None
