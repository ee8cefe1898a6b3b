"""Durable notifications through the REST API (`POST /api/v1/notifications`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import httpx

from tocsin.http import call

NOTIFICATIONS_PATH = "/api/v1/notifications"


class NotificationApi:
    """`create_notification` (mixed into `tocsin.Tocsin`)."""

    _http: httpx.AsyncClient

    async def create_notification(
        self,
        recipients: Iterable[str],
        title: str,
        *,
        type: str = "system.message",
        priority: str = "normal",
        message: str = "",
        entity_type: str | None = None,
        entity_id: str | None = None,
        entity_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create one stored notification per recipient: counted in their badge, delivered to
        their open sockets (`notification:new`), by email and webhooks as they prefer, replayed
        after a reconnect. `idempotency_key` (a fresh UUID when omitted) makes a retry safe:
        the same key with the same body answers the first result and creates nothing more.
        Returns the API's answer (`count`, `created_at`, `notifications`: ids per user).
        Raises ApiError (409 `idempotency_key_reused` when the key was used with another body)."""
        body: dict[str, Any] = {
            "recipients": list(recipients),
            "type": type,
            "priority": priority,
            "title": title,
            "message": message,
        }
        for name, value in (
            ("entity_type", entity_type),
            ("entity_id", entity_id),
            ("entity_url", entity_url),
        ):
            if value is not None:
                body[name] = value
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        result: dict[str, Any] = await call(
            self._http, "POST", NOTIFICATIONS_PATH, json=body, headers=headers
        )
        return result
