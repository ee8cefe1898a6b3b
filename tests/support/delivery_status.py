"""The notification API as the delivery-status tests call it: tokens, subscribing a user,
notifying one, reading a notification's deliveries, and waiting for the status consumer."""

from __future__ import annotations

import uuid

import aio_pika
import httpx
from aio_pika.abc import AbstractRobustConnection

from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE

JWT_SECRET = "test-secret-for-deliveries"
JWT = JwtSettings(secret=JWT_SECRET)


async def consuming(connection: AbstractRobustConnection, name: str) -> bool:
    """True once a consumer is attached to the queue: it is declared and bound by then."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return False
    await channel.close()
    return bool(queue.declaration_result.consumer_count)


def user_headers(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT, user_id)}"}


def service_headers() -> dict[str, str]:
    token = mint_token(JWT, f"svc-{uuid.uuid4().hex[:8]}", scopes=[WRITE_SCOPE])
    return {"Authorization": f"Bearer {token}"}


async def subscribe(api: httpx.AsyncClient, user_id: str, email: str) -> None:
    response = await api.put(
        f"/api/v1/subscribers/{user_id}",
        json={"email": email, "name": "Grace Hopper", "locale": None},
        headers=service_headers(),
    )
    assert response.status_code == 200, response.text


async def notify(
    api: httpx.AsyncClient,
    user_id: str,
    notification_type: str = "incident_created",
    priority: str = "high",
) -> str:
    response = await api.post(
        "/api/v1/notifications",
        json={
            "recipients": [user_id],
            "type": notification_type,
            "priority": priority,
            "title": "Disk almost full on db-1",
            "message": "92% used",
        },
        headers=service_headers(),
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["notifications"][0]["id"])


async def deliveries(api: httpx.AsyncClient, user_id: str, notification_id: str) -> dict:
    response = await api.get(
        f"/api/v1/notifications/{notification_id}", headers=user_headers(user_id)
    )
    assert response.status_code == 200, response.text
    return dict(response.json().get("deliveries") or {})
