"""Request and response bodies of the REST API, with the documented limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.events import EventEnvelope
from contracts.notifications import (
    ENTITY_URL_MAX,
    MESSAGE_MAX,
    NOTIFICATION_TYPE_PATTERN,
    TITLE_MAX,
    Channel,
    NotificationData,
    NotificationStats,
    Priority,
)
from contracts.text import StorableText
from services.notification.email_address import EmailAddress
from services.notification.records import Content

RECIPIENTS_MAX = 1000
LISTED_RECIPIENTS_MAX = 10_000
"""Recipients an announcement may list (without a list it goes to every known user)."""
PAGE_SIZE_MAX = 100
USER_ID_MAX = 255
EVENTS_PAGE_MAX = 1000
LATEST_SEQS_MAX = 1000

NO_NUL_PATTERN = r"^[^\x00]*$"
"""For path parameters: URL decoding already turns invalid UTF-8 into U+FFFD, so NUL is the
only unstorable character a path can carry."""

Text = StorableText
"""No NUL, no lone surrogate: refused here (422), not in the database (500)."""
UserId = Annotated[Text, StringConstraints(min_length=1, max_length=USER_ID_MAX)]
NotificationType = Annotated[str, StringConstraints(pattern=NOTIFICATION_TYPE_PATTERN)]


class ContentBody(BaseModel):
    """What a request's notifications say, the same for every recipient (the fields that
    create and announce requests share)."""

    model_config = ConfigDict(extra="forbid")

    type: NotificationType
    priority: Priority = Priority.NORMAL
    title: Text = Field(min_length=1, max_length=TITLE_MAX)
    message: Text = Field(default="", max_length=MESSAGE_MAX)
    entity_type: Text | None = Field(default=None, max_length=100)
    entity_id: Text | None = Field(default=None, max_length=255)
    entity_url: Text | None = Field(default=None, max_length=ENTITY_URL_MAX)

    def content(self) -> Content:
        return Content(
            type=self.type,
            priority=self.priority,
            title=self.title,
            message=self.message,
            entity_type=self.entity_type,
            entity_id=self.entity_id,
            entity_url=self.entity_url,
        )


class CreateNotificationsBody(ContentBody):
    """Notify every recipient (duplicates count once) with the same content."""

    recipients: list[UserId] = Field(min_length=1, max_length=RECIPIENTS_MAX)


class CreatedItem(BaseModel):
    id: str
    user_id: str
    seq: int | None = Field(default=None, description="Not sent by create.")


class CreateNotificationsResponse(BaseModel):
    count: int
    created_at: datetime
    notifications: list[CreatedItem]


class AnnouncementBody(ContentBody):
    """What to announce, and to whom (`recipients` omitted or null: every known user)."""

    recipients: list[UserId] | None = Field(
        default=None, min_length=1, max_length=LISTED_RECIPIENTS_MAX
    )
    type: NotificationType = "announcement"


class AnnouncementResponse(BaseModel):
    audience: str = Field(description="`all` (every known user) or `list`.")
    count: int = Field(description="Notifications created by this request.")
    batches: int


class DeliveryStatus(BaseModel):
    """The latest outcome of one channel; `targets` lists each target when there are several
    (a notification delivered to more than one webhook endpoint)."""

    status: str
    attempts: int
    detail: str | None = None
    at: datetime
    target: str | None = None
    targets: list[DeliveryStatus] | None = None


class NotificationDetail(NotificationData):
    deliveries: dict[str, DeliveryStatus] = {}


class NotificationPage(BaseModel):
    items: list[NotificationData]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class PreferenceItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_.-]{0,63})$")] = Field(
        description="A notification type, or `*` for every type."
    )
    channel: Channel
    enabled: bool


class PreferencesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preferences: list[PreferenceItem] = Field(max_length=500)


class PreferencesResponse(BaseModel):
    preferences: list[PreferenceItem]
    defaults: dict[Channel, bool]
    critical_overrides: list[Channel] = Field(
        description="Channels a `critical` notification uses even when opted out."
    )


class SubscriberBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress | None = Field(
        default=None,
        max_length=320,
        description="Where emails go; refused with 422 `invalid_email` unless deliverable "
        "(see services/notification/email_address.py). The domain is stored in IDNA form.",
    )
    name: Text | None = Field(default=None, max_length=200)
    locale: str | None = Field(
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$"
    )


class SubscriberResponse(SubscriberBody):
    user_id: str


class EventsPage(BaseModel):
    events: list[EventEnvelope]
    latest_seq: int
    complete: bool = Field(description="False when more events follow the last one returned.")


class LatestSeqsRequest(BaseModel):
    user_ids: list[UserId] = Field(min_length=1, max_length=LATEST_SEQS_MAX)


class LatestSeqs(BaseModel):
    seqs: dict[str, int] = Field(description="Each user's latest seq; 0 when it has no events.")


class Stats(NotificationStats):
    pass
