"""Fixtures for the push service: local push services (Web Push, FCM, APNs) that check what
they receive, settings with short delays, the service (API + consumer + timers) running in
this test's event loop, and helpers to publish events and register devices."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from contracts.events import EventEnvelope, EventType, NotificationCreated
from contracts.notifications import Channel, NotificationData, Priority, Recipient
from contracts.topology import Topology, routing_key
from identity import JwtSettings, mint_token
from messaging.publisher import envelope_message, publish_confirmed
from messaging.topology import consumer_queue_names
from services.push import tables
from services.push.app import create_app
from services.push.settings import Settings
from services.push.vapid import generate_keys
from tests.push.servers import ApnsService, BrowserSubscription, FcmService, WebPushService
from tests.support.waiting import eventually

JWT_SECRET = "push-test-secret"
JWT = JwtSettings(secret=JWT_SECRET)
RETRY_DELAYS_MS = (100, 200, 300)
VAPID_PRIVATE, VAPID_PUBLIC = generate_keys()


def user_token(user_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(JWT, user_id)}"}


def created_event(
    user_id: str,
    *,
    priority: Priority = Priority.HIGH,
    channels: list[Channel] | None = None,
    title: str = "Disk almost full",
    message: str = "INC-1 was created",
    entity: tuple[str, str] | None = ("incident", "INC-1"),
    type_: str = "incident_created",
) -> EventEnvelope:
    data = NotificationCreated(
        notification=NotificationData(
            id=str(uuid.uuid4()),
            type=type_,
            priority=priority,
            title=title,
            message=message,
            entity_type=entity[0] if entity else None,
            entity_id=entity[1] if entity else None,
            entity_url=f"/incidents/{entity[1]}" if entity else None,
            created_at=datetime.now(UTC),
        ),
        recipient=Recipient(user_id=user_id),
        channels=channels if channels is not None else [Channel.IN_APP, Channel.PUSH],
    )
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=EventType.NOTIFICATION_CREATED,
        occurred_at=datetime.now(UTC),
        user_id=user_id,
        seq=1,
        data=data.model_dump(mode="json"),
    )


def notification_id(envelope: EventEnvelope) -> str:
    return str(envelope.data["notification"]["id"])


def user_event(user_id: str, event_type: EventType, data: dict[str, Any]) -> EventEnvelope:
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=event_type,
        occurred_at=datetime.now(UTC),
        user_id=user_id,
        seq=2,
        data=data,
    )


@pytest.fixture
async def web_push() -> AsyncIterator[WebPushService]:
    server = WebPushService()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def fcm() -> AsyncIterator[FcmService]:
    server = FcmService()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def apns() -> AsyncIterator[ApnsService]:
    server = ApnsService()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def settings_for(
    database_url: str, amqp_url: str, topology: Topology, web_push: WebPushService
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "amqp_url": amqp_url,
            "tocsin_namespace": topology.namespace,
            "jwt_secret": JWT_SECRET,
            "vapid_private_key": VAPID_PRIVATE,
            "vapid_subject": "mailto:ops@tocsin.example",
            "allowed_targets": (web_push.target,),
            "timeout_s": 3.0,
            "delay_s": 60.0,
            "timer_poll_s": 0.1,
            "retry_delays_ms": RETRY_DELAYS_MS,
            "send_backoff_s": (0.2, 0.4, 0.6),
            "max_concurrency": 4,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@dataclass
class PushService:
    app: FastAPI
    settings: Settings
    http: httpx.AsyncClient
    topology: Topology
    connection: AbstractRobustConnection

    @property
    def engine(self) -> Any:
        return self.app.state.push.engine

    async def subscribe(self, web_push: WebPushService, user_id: str) -> BrowserSubscription:
        """Subscribe a browser the way the web client does: fetch the key, subscribe at the
        push service, register the subscription."""
        key = (await self.http.get("/api/v1/push/vapid-public-key")).json()["public_key"]
        subscription = web_push.subscribe(key)
        response = await self.http.post(
            "/api/v1/push/subscriptions", json=subscription.to_json(), headers=user_token(user_id)
        )
        assert response.status_code == 201, response.text
        return subscription

    async def devices(self, user_id: str) -> list[dict[str, Any]]:
        response = await self.http.get("/api/v1/push/subscriptions", headers=user_token(user_id))
        assert response.status_code == 200, response.text
        devices: list[dict[str, Any]] = response.json()
        return devices

    async def publish(self, envelope: EventEnvelope) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        try:
            exchange = await channel.get_exchange(self.topology.events_exchange)
            await publish_confirmed(
                exchange, envelope_message(envelope), routing_key(envelope.type, envelope.user_id)
            )
        finally:
            await channel.close()

    async def push_state(self, notification: str) -> str | None:
        async with self.engine.connect() as conn:
            state: str | None = (
                await conn.execute(
                    sa.select(tables.pushes.c.state).where(
                        tables.pushes.c.notification_id == notification
                    )
                )
            ).scalar()
        return state

    async def wait_state(self, notification: str, state: str) -> None:
        await eventually(
            lambda: self.push_state(notification),
            lambda seen: seen == state,
            what=f"push {notification} {state}",
        )

    async def seen(self, envelope: EventEnvelope) -> None:
        """Wait until the consumer recorded `envelope`."""

        async def probe() -> bool:
            async with self.engine.connect() as conn:
                row = await conn.execute(
                    sa.select(tables.events.c.event_id).where(
                        tables.events.c.event_id == envelope.event_id
                    )
                )
                return row.first() is not None

        await eventually(probe, what=f"event {envelope.type} recorded")


@pytest.fixture
def service_factory(
    settings_for: Callable[..., Settings],
    topology: Topology,
    amqp_connection: AbstractRobustConnection,
    broker_cleanup: list[str],
) -> Callable[..., Any]:
    """`async with service_factory(**overrides) as service:` runs one push service."""

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[PushService]:
        settings = settings_for(**overrides)
        broker_cleanup.extend(consumer_queue_names(topology, "push", settings.retry_delays_ms))
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://push") as http:
                service = PushService(app, settings, http, topology, amqp_connection)
                await eventually(
                    lambda: http.get("/readyz"),
                    lambda r: r.status_code == 200,
                    what="push service ready",
                )
                yield service

    return run


@pytest.fixture
async def service(service_factory: Callable[..., Any]) -> AsyncIterator[PushService]:
    async with service_factory() as running:
        yield running
