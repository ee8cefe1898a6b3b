"""The push service for a test: tokens, VAPID keys, events to publish to it, and a client that
registers devices and reads what the service recorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from contracts.events import EventEnvelope, EventType
from contracts.notifications import Channel, NotificationData, Priority, Recipient
from contracts.topology import Topology, routing_key
from identity import JwtSettings, mint_token
from messaging.publisher import envelope_message, publish_confirmed
from services.push import tables
from services.push.settings import Settings
from services.push.vapid import generate_keys
from tests.push.servers import BrowserSubscription, WebPushService
from tests.support.events import created_envelope
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
    notification = NotificationData(
        id=str(uuid.uuid4()),
        type=type_,
        priority=priority,
        title=title,
        message=message,
        entity_type=entity[0] if entity else None,
        entity_id=entity[1] if entity else None,
        entity_url=f"/incidents/{entity[1]}" if entity else None,
        created_at=datetime.now(UTC),
    )
    return created_envelope(
        notification,
        Recipient(user_id=user_id),
        channels if channels is not None else [Channel.IN_APP, Channel.PUSH],
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
