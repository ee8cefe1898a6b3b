"""The notification service (relay + delivery-status consumer) and the email consumer, both
in-process, over real Postgres, RabbitMQ and an in-process SMTP server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from contracts.topology import Topology
from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE
from messaging.topology import DEFAULT_RETRY_DELAYS_MS, consumer_queue_names
from services.notification.app import create_app
from services.notification.deliveries import CONSUMER_NAME
from services.notification.settings import Settings
from tests.email.conftest import (  # noqa: F401 - fixtures
    UNSUBSCRIBE_SECRET,
    email_app,
    email_db,
    email_settings,
    smtp,
)
from tests.support import in_process
from tests.support.waiting import eventually

JWT_SECRET = "test-secret-for-deliveries"
JWT = JwtSettings(secret=JWT_SECRET)


@pytest.fixture
def notification_settings(database_url: str, amqp_url: str, topology: Topology) -> Settings:
    return in_process.notification_settings(
        database_url,
        amqp_url,
        JWT_SECRET,
        tocsin_namespace=topology.namespace,
        incidents_enabled=False,
        deliveries_enabled=True,
        unsubscribe_secret=UNSUBSCRIBE_SECRET,
    )


@pytest.fixture
async def api(
    notification_settings: Settings,
    topology: Topology,
    broker_cleanup: list[str],
    amqp_connection: AbstractRobustConnection,
) -> AsyncIterator[httpx.AsyncClient]:
    """The notification service with its relay and delivery-status consumer running."""
    broker_cleanup.extend(consumer_queue_names(topology, CONSUMER_NAME, DEFAULT_RETRY_DELAYS_MS))
    app: FastAPI = create_app(notification_settings)
    async with in_process.serving(app, "http://notification.test") as client:
        await eventually(
            lambda: consuming(amqp_connection, topology.queue(CONSUMER_NAME)),
            what="the delivery-status consumer on its queue",
        )
        yield client


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
