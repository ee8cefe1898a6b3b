"""Announcements: one notification for every known user, or for a list of users.

`POST /api/v1/announcements` (token with `notifications:write`). Without `recipients` the
audience is every known user: anyone who has a notification stream or a subscriber record.
Each recipient gets a normal, durable notification (and its `notification.created` event, so
it reaches open browsers, email and webhooks like any other).

The audience is written in batches of `BATCH_SIZE` users, each batch one transaction (a
single transaction over every user would hold every user's stream lock at once). With an
`Idempotency-Key`, every batch is idempotent on its own: a retry after a failure creates only
the batches that did not commit, and repeating a finished request creates nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from contracts.notifications import ENTITY_URL_MAX, MESSAGE_MAX, TITLE_MAX, Priority
from services.notification.auth import Writer
from services.notification.idempotency import KEY_MAX
from services.notification.payloads import NotificationType, Text, UserId
from services.notification.routes.dependencies import Service
from services.notification.service import CreateNotifications, NotificationService
from services.notification.store import Content

BATCH_SIZE = 500
LISTED_RECIPIENTS_MAX = 10_000

router = APIRouter(tags=["services"])

_KNOWN_USERS = text(
    """
SELECT user_id FROM notification.user_streams
UNION
SELECT user_id FROM notification.subscribers
ORDER BY 1
"""
)


class AnnouncementBody(BaseModel):
    """What to announce, and to whom (`recipients` omitted or null: every known user)."""

    model_config = ConfigDict(extra="forbid")

    recipients: list[UserId] | None = Field(
        default=None, min_length=1, max_length=LISTED_RECIPIENTS_MAX
    )
    type: NotificationType = "announcement"
    priority: Priority = Priority.NORMAL
    title: Text = Field(min_length=1, max_length=TITLE_MAX)
    message: Text = Field(default="", max_length=MESSAGE_MAX)
    entity_type: Text | None = Field(default=None, max_length=100)
    entity_id: Text | None = Field(default=None, max_length=255)
    entity_url: Text | None = Field(default=None, max_length=ENTITY_URL_MAX)


class AnnouncementResponse(BaseModel):
    audience: str = Field(description="`all` (every known user) or `list`.")
    count: int = Field(description="Notifications created by this request.")
    batches: int


async def known_users(service: NotificationService) -> list[str]:
    """Every user with a notification stream or a subscriber record, in user id order."""
    async with service.engine.connect() as conn:
        return [row.user_id for row in await conn.execute(_KNOWN_USERS)]


async def announce(
    service: NotificationService,
    body: AnnouncementBody,
    *,
    caller: str,
    idempotency_key: str | None,
) -> AnnouncementResponse:
    """Create the announcement for its audience, batch by batch.

    Raises IdempotencyKeyReused when the key was used before with a different body.
    """
    recipients = (
        list(dict.fromkeys(body.recipients))
        if body.recipients is not None
        else await known_users(service)
    )
    content = Content(
        type=body.type,
        priority=body.priority,
        title=body.title,
        message=body.message,
        entity_type=body.entity_type,
        entity_id=body.entity_id,
        entity_url=body.entity_url,
    )
    request = body.model_dump(mode="json")
    count = 0
    batches = 0
    for start in range(0, len(recipients), BATCH_SIZE):
        batch = recipients[start : start + BATCH_SIZE]
        key = f"announcement:{idempotency_key}:{batches}" if idempotency_key else None
        result = await service.create(
            CreateNotifications(recipients=batch, content=content),
            caller=caller,
            idempotency_key=key,
            request_body={**request, "batch": batches} if key else None,
        )
        count += int(result.body["count"])
        batches += 1
    return AnnouncementResponse(
        audience="list" if body.recipients is not None else "all", count=count, batches=batches
    )


@router.post(
    "/announcements",
    status_code=201,
    response_model=AnnouncementResponse,
    responses={409: {"description": "`idempotency_key_reused`: same key, different body"}},
)
async def post_announcement(
    body: AnnouncementBody,
    caller: Writer,
    service: Service,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=KEY_MAX - 32)
    ] = None,
) -> Any:
    """Notify every known user (no `recipients`) or the listed users with the same content."""
    return await announce(service, body, caller=caller.user_id, idempotency_key=idempotency_key)
