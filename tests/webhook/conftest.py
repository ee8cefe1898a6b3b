"""Fixtures for the webhook service: a real HTTP receiver, settings with a compressed retry
schedule, the service (API + consumer) running in this test's event loop, and helpers to
publish events, register endpoints and read what happened."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import EventEnvelope, EventType, NotificationCreated
from contracts.notifications import Channel, NotificationData, Priority, Recipient
from contracts.topology import Topology, routing_key
from identity import JwtSettings, mint_token
from identity.tokens import WEBHOOKS_ADMIN_SCOPE, WRITE_SCOPE
from messaging.publisher import envelope_message, publish_confirmed
from messaging.topology import consumer_queue_names
from services.webhook import tables
from services.webhook.app import create_app
from services.webhook.settings import Settings
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
    notification_id = str(uuid.uuid4())
    data = NotificationCreated(
        notification=NotificationData(
            id=notification_id,
            type="incident_created",
            priority=Priority.HIGH,
            title=title,
            message="INC-1 was created",
            created_at=datetime.now(UTC),
        ),
        recipient=Recipient(user_id=user_id, email=f"{user_id}@example.test"),
        channels=channels if channels is not None else [Channel.IN_APP, Channel.WEBHOOK],
    )
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=EventType.NOTIFICATION_CREATED,
        occurred_at=datetime.now(UTC),
        user_id=user_id,
        seq=1,
        data=data.model_dump(mode="json"),
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings_for(
    database_url: str, amqp_url: str, topology: Topology, receiver: WebhookReceiver
) -> Callable[..., Settings]:
    """Settings whose only allowed private target is the test's receiver."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "amqp_url": amqp_url,
            "tocsin_namespace": topology.namespace,
            "jwt_secret": JWT_SECRET,
            "allowed_private_targets": f"127.0.0.1:{receiver.port}",
            "timeout_s": 3.0,
            "retry_delays_ms": RETRY_DELAYS_MS,
            "retry_jitter": 0.1,
            "prefetch": 16,
        }
        values.update(overrides)
        return Settings(**values)

    return build


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


@pytest.fixture
def service_factory(
    settings_for: Callable[..., Settings],
    topology: Topology,
    amqp_connection: AbstractRobustConnection,
    broker_cleanup: list[str],
) -> Callable[..., Any]:
    """`async with service_factory(**overrides) as service:` runs one webhook service."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[WebhookService]:
        settings = settings_for(**overrides)
        broker_cleanup.extend(webhook_queues(topology, tuple(settings.retry_delays_ms)))
        app = create_app(settings)
        started = datetime.now(UTC)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://webhook") as h:
                    yield WebhookService(app, settings, h, topology, amqp_connection)
            finally:
                await forget_global_endpoints(app.state.webhook.engine, since=started)

    return run


@pytest.fixture
async def service(service_factory: Callable[..., Any]) -> AsyncIterator[WebhookService]:
    async with service_factory() as running:
        yield running


@pytest.fixture
async def outcomes(
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    service: WebhookService,
    broker_cleanup: list[str],
) -> AbstractQueue:
    """A queue of this test's own that receives every delivery.* event."""
    channel = await amqp_connection.channel()
    name = f"{topology.namespace}.test-outcomes"
    queue = await channel.declare_queue(name, durable=False, auto_delete=False)
    await queue.bind(topology.events_exchange, "delivery.#")
    broker_cleanup.append(name)
    return queue


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
