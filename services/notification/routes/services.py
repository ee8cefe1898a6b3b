"""Calls made by other services (token with the `notifications:write` scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path

from contracts.timestamps import rfc3339
from services.notification.auth import Writer
from services.notification.http_errors import JSONResponse
from services.notification.idempotency import KEY_MAX
from services.notification.payloads import (
    NO_NUL_PATTERN,
    USER_ID_MAX,
    CreateNotificationsBody,
    CreateNotificationsResponse,
    SubscriberBody,
    SubscriberResponse,
)
from services.notification.routes.dependencies import Service
from services.notification.service import CreateNotifications, Subscriber

router = APIRouter(tags=["services"])


@router.post(
    "/notifications",
    status_code=201,
    response_model=CreateNotificationsResponse,
    responses={409: {"description": "`idempotency_key_reused`: same key, different body"}},
)
async def create_notifications(
    body: CreateNotificationsBody,
    caller: Writer,
    service: Service,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=KEY_MAX)
    ] = None,
) -> JSONResponse:
    """Create one notification per recipient, in one transaction.

    With an `Idempotency-Key`, repeating the same request returns the first response; the
    same key with a different body answers 409 `idempotency_key_reused`.
    """
    recipients = list(dict.fromkeys(body.recipients))
    command = CreateNotifications(
        recipients=recipients,
        content=body.content(),
    )
    created = await service.create(
        command,
        caller=caller.user_id,
        idempotency_key=idempotency_key,
        request_body=body.model_dump(mode="json") if idempotency_key else None,
    )
    answer = {
        "count": created.count,
        "created_at": rfc3339(created.created_at),
        "notifications": [{"id": n.id, "user_id": n.user_id} for n in created.notifications],
    }
    return JSONResponse(answer, status_code=201)


@router.put(
    "/subscribers/{user_id}",
    response_model=SubscriberResponse,
    responses={422: {"description": "`invalid_email`: not a deliverable address"}},
)
async def put_subscriber(
    user_id: Annotated[str, Path(min_length=1, max_length=USER_ID_MAX, pattern=NO_NUL_PATTERN)],
    body: SubscriberBody,
    caller: Writer,
    service: Service,
) -> dict[str, Any]:
    """Create or replace what Tocsin knows about a person (used in `notification.created`)."""
    await service.upsert_subscriber(
        Subscriber(user_id=user_id, email=body.email, name=body.name, locale=body.locale)
    )
    return {"user_id": user_id, **body.model_dump()}
