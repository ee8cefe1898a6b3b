"""Services run inside the test's event loop: lifespan started, called over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from services.notification.settings import Settings as NotificationSettings


@asynccontextmanager
async def serving(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (and background workers) running, and a client calling it
    in-process. Leaving the block shuts the lifespan down."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


def notification_settings(
    database_url: str, amqp_url: str, jwt_secret: str, **overrides: Any
) -> NotificationSettings:
    """Notification service settings for a test: a fast relay and a small pool unless
    `overrides` say otherwise."""
    values: dict[str, Any] = {"relay_poll_interval_s": 0.2, "db_pool_size": 4, **overrides}
    return NotificationSettings(
        database_url=database_url, amqp_url=amqp_url, jwt_secret=jwt_secret, **values
    )
