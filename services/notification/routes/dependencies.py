"""Request-scoped access to the app's resources."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.notification.service import NotificationService


async def _service(request: Request) -> NotificationService:
    service: NotificationService = request.app.state.service
    return service


Service = Annotated[NotificationService, Depends(_service)]
