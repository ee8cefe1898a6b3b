"""A user's own notifications, stats and preferences (`sub` of the token is the user)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from contracts.notifications import NOTIFICATION_TYPE_PATTERN, Channel, NotificationData, Priority
from services.notification.auth import User
from services.notification.payloads import (
    PAGE_SIZE_MAX,
    NotificationDetail,
    NotificationPage,
    PreferenceItem,
    PreferencesBody,
    PreferencesResponse,
    Stats,
)
from services.notification.preferences import CRITICAL_FORCED, DEFAULT_ENABLED, Preference
from services.notification.queries import ListFilter
from services.notification.routes.dependencies import Service

router = APIRouter(tags=["users"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such notification for this user (`notification_not_found`)"}
}


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(
    user: User,
    service: Service,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = 20,
    unread: bool | None = None,
    type: Annotated[str | None, Query(pattern=NOTIFICATION_TYPE_PATTERN)] = None,
    priority: Priority | None = None,
) -> dict[str, Any]:
    """Newest first. Pass `next_cursor` back as `cursor` for the next page."""
    page = await service.page(
        user.user_id, ListFilter(unread=unread, type=type, priority=priority), cursor, limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/notifications/stats", response_model=Stats)
async def stats(user: User, service: Service) -> dict[str, Any]:
    return await service.stats(user.user_id)


@router.post("/notifications/read-all", response_model=Stats)
async def read_all(user: User, service: Service) -> dict[str, Any]:
    """Mark every unread notification read; returns the stats after."""
    return await service.read_all(user.user_id)


@router.get(
    "/notifications/{notification_id}", response_model=NotificationDetail, responses=NOT_FOUND
)
async def get_notification(notification_id: str, user: User, service: Service) -> dict[str, Any]:
    """The notification and, per channel, its latest delivery outcome (`deliveries`)."""
    detail = await service.detail(user.user_id, notification_id)
    deliveries = {channel: asdict(status) for channel, status in detail.deliveries.items()}
    return {**detail.notification, "deliveries": deliveries}


@router.post(
    "/notifications/{notification_id}/read", response_model=NotificationData, responses=NOT_FOUND
)
async def mark_read(notification_id: str, user: User, service: Service) -> dict[str, Any]:
    return await service.mark(user.user_id, notification_id, read=True)


@router.post(
    "/notifications/{notification_id}/unread", response_model=NotificationData, responses=NOT_FOUND
)
async def mark_unread(notification_id: str, user: User, service: Service) -> dict[str, Any]:
    return await service.mark(user.user_id, notification_id, read=False)


@router.delete("/notifications/{notification_id}", status_code=204, responses=NOT_FOUND)
async def delete_notification(notification_id: str, user: User, service: Service) -> Response:
    await service.delete(user.user_id, notification_id)
    return Response(status_code=204)


def _preferences_response(preferences: list[Preference]) -> dict[str, Any]:
    return {
        "preferences": [
            {"type": p.type, "channel": p.channel.value, "enabled": p.enabled} for p in preferences
        ],
        "defaults": {c.value: DEFAULT_ENABLED[c] for c in Channel},
        "critical_overrides": sorted(c.value for c in CRITICAL_FORCED),
    }


@router.get("/preferences", response_model=PreferencesResponse)
async def get_preferences(user: User, service: Service) -> dict[str, Any]:
    """The user's preferences per type (`*` = every type) and channel; absent means default."""
    return _preferences_response(await service.preferences(user.user_id))


@router.put("/preferences", response_model=PreferencesResponse)
async def put_preferences(body: PreferencesBody, user: User, service: Service) -> dict[str, Any]:
    """Replace the user's preferences with these."""
    saved = await service.set_preferences(
        user.user_id,
        [Preference(type=p.type, channel=p.channel, enabled=p.enabled) for p in body.preferences],
    )
    return _preferences_response(saved)


__all__ = ["PreferenceItem", "router"]
