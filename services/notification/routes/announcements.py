"""`POST /api/v1/announcements` (token with `notifications:write`): one notification for every
known user (no `recipients`) or for the listed users (see `announcements.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from services.notification.announcements import Announce, announce
from services.notification.auth import Writer
from services.notification.idempotency import KEY_MAX
from services.notification.payloads import AnnouncementBody, AnnouncementResponse
from services.notification.routes.dependencies import Service

router = APIRouter(tags=["services"])


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
) -> AnnouncementResponse:
    """Notify every known user (no `recipients`) or the listed users with the same content."""
    announced = await announce(
        service,
        Announce(recipients=body.recipients, content=body.content()),
        caller=caller.user_id,
        idempotency_key=idempotency_key,
        request_body=body.model_dump(mode="json") if idempotency_key else None,
    )
    return AnnouncementResponse(
        audience=announced.audience, count=announced.count, batches=announced.batches
    )
