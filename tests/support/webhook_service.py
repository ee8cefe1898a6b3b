"""The webhook service for a test: its settings, tokens for its callers, events to publish to it
and its queues, and a client that registers endpoints at the test's receiver."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import EventEnvelope
from contracts.notifications import Channel, NotificationData, Priority, Recipient
from contracts.topology import Topology, routing_key
from identity import JwtSettings, mint_token
from identity.tokens import WEBHOOKS_ADMIN_SCOPE, WRITE_SCOPE
from messaging.publisher import envelope_message, publish_confirmed
from messaging.topology import consumer_queue_names
from services.webhook import tables
from services.webhook.settings import Settings
from tests.support.events import created_envelope
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver

JWT_SECRET = "webhook-test-secret"
RETRY_DELAYS_MS = (100, 200, 300)
JWT = JwtSettings(secret=JWT_SECRET)


def webhook_queues(topology: Topology, delays: tuple[int, ...] = RETRY_DELAYS_MS) -> list[str]:
    return consumer_queue_names(topology, "webhook", delays)


def user_token(user_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(JWT, user_id)}"}


def service_token() -> dict[str, str]:
    """A webhook administrator (`webhooks:admin`)."""
    token = mint_token(JWT, "svc-incidents", scopes=[WEBHOOKS_ADMIN_SCOPE])
    return {"authorization": f"Bearer {token}"}


def sender_token() -> dict[str, str]:
    """A service that sends notifications (`notifications:write`)."""
    return {"authorization": f"Bearer {mint_token(JWT, 'svc-incidents', scopes=[WRITE_SCOPE])}"}


def created_event(
    user_id: str, channels: list[Channel] | None = None, title: str = "Disk almost full"
) -> EventEnvelope:
    notification = NotificationData(
        id=str(uuid.uuid4()),
        type="incident_created",
        priority=Priority.HIGH,
        title=title,
        message="INC-1 was created",
        created_at=datetime.now(UTC),
    )
    return created_envelope(
        notification,
        Recipient(user_id=user_id, email=f"{user_id}@example.test"),
        channels if channels is not None else [Channel.IN_APP, Channel.WEBHOOK],
    )


@dataclass
class WebhookService:
    app: FastAPI
    settings: Settings
    http: httpx.AsyncClient
    topology: Topology
    connection: AbstractRobustConnection

    async def register(
        self, receiver: WebhookReceiver, path: str, headers: dict[str, str], **body: Any
    ) -> dict[str, Any]:
        """Register `receiver.url(path)` and hand its secret to the receiver."""
        response = await self.http.post(
            "/api/v1/webhooks/endpoints", json={"url": receiver.url(path), **body}, headers=headers
        )
        assert response.status_code == 201, response.text
        endpoint: dict[str, Any] = response.json()
        receiver.secrets[path.lstrip("/")] = endpoint["secret"]
        return endpoint

    async def attempts(self, endpoint_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(
            f"/api/v1/webhooks/endpoints/{endpoint_id}/attempts", headers=service_token()
        )
        assert response.status_code == 200, response.text
        attempts: list[dict[str, Any]] = response.json()
        return list(reversed(attempts))

    async def endpoint(self, endpoint_id: str) -> dict[str, Any]:
        response = await self.http.get(
            f"/api/v1/webhooks/endpoints/{endpoint_id}", headers=service_token()
        )
        assert response.status_code == 200, response.text
        endpoint: dict[str, Any] = response.json()
        return endpoint

    async def publish(
        self, envelope: EventEnvelope, headers: dict[str, object] | None = None
    ) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        try:
            exchange = await channel.get_exchange(self.topology.events_exchange)
            await publish_confirmed(
                exchange,
                envelope_message(envelope, headers),
                routing_key(envelope.type, envelope.user_id),
            )
        finally:
            await channel.close()

    async def publish_raw(self, body: bytes, key: str) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        try:
            exchange = await channel.get_exchange(self.topology.events_exchange)
            message = aio_pika.Message(body, content_type="application/json", message_id="poison")
            await publish_confirmed(exchange, message, key)
        finally:
            await channel.close()


async def forget_global_endpoints(engine: AsyncEngine, since: datetime) -> None:
    """Global endpoints receive every test's events: delete the ones this test created."""
    endpoints = tables.endpoints
    async with engine.begin() as conn:
        await conn.execute(
            endpoints.delete().where(endpoints.c.user_id.is_(None), endpoints.c.created_at >= since)
        )


async def drain(queue: AbstractQueue, count: int, timeout: float = 15.0) -> list[EventEnvelope]:
    """Wait until `count` events can be read from `queue`; returns them."""
    seen: list[EventEnvelope] = []

    async def read() -> int:
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            seen.append(EventEnvelope.model_validate_json(message.body))
        return len(seen)

    await eventually(read, lambda n: n >= count, timeout=timeout, what=f"{count} events")
    return seen


async def publish_events(amqp_url: str, topology: Topology, events: list[EventEnvelope]) -> None:
    """Publish events to the events exchange (which must exist) with confirms."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(topology.events_exchange)
        for envelope in events:
            await publish_confirmed(
                exchange, envelope_message(envelope), routing_key(envelope.type, envelope.user_id)
            )
    finally:
        await connection.close()
