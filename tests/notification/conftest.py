"""Fixtures for the notification service: the app in-process (lifespan started, relay on),
tokens, unique users, and queues bound to the test's own events exchange."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import httpx
import orjson
import pytest
from aio_pika.abc import AbstractQueue
from fastapi import FastAPI

from contracts.topology import Topology
from identity import JwtSettings, mint_token
from identity.tokens import EVENTS_READ_SCOPE, WRITE_SCOPE
from services.notification.app import create_app
from services.notification.settings import Settings
from tests.support.in_process import notification_settings, serving

JWT_SECRET = "test-secret-for-notification-service"


@pytest.fixture
def settings(database_url: str, amqp_url: str, topology: Topology) -> Settings:
    return notification_settings(
        database_url,
        amqp_url,
        JWT_SECRET,
        tocsin_namespace=topology.namespace,
        db_pool_size=5,
        incidents_enabled=False,  # the incident consumer's queues are tested in tests/incidents
        deliveries_enabled=False,  # the delivery-status consumer is tested in tests/deliveries
    )


@pytest.fixture
def jwt() -> JwtSettings:
    return JwtSettings(secret=JWT_SECRET)


@pytest.fixture
def user_token(jwt: JwtSettings) -> Callable[[str], dict[str, str]]:
    """Authorization headers for a user."""

    def headers(user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(jwt, user_id)}"}

    return headers


@pytest.fixture
def service_headers(jwt: JwtSettings) -> dict[str, str]:
    """A caller that both sends (`notifications:write`) and reads events back, as the realtime
    service does (`events:read`): these tests play both parts."""
    scopes = [WRITE_SCOPE, EVENTS_READ_SCOPE]
    token = mint_token(jwt, f"svc-{uuid.uuid4().hex[:8]}", scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


async def started(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app, "http://notification.test") as client:
        yield client


@pytest.fixture
async def client(settings: Settings, broker_cleanup: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (and relay) running, called in-process."""
    async for c in started(create_app(settings)):
        yield c


@pytest.fixture
async def bound_queue(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
) -> Callable[[list[str]], Awaitable[AbstractQueue]]:
    """Declare a queue bound to the test's events exchange with the given binding keys."""

    async def declare(bindings: list[str]) -> AbstractQueue:
        channel = await amqp_connection.channel()
        exchange = await channel.declare_exchange(
            topology.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        name = f"{topology.namespace}.probe.{uuid.uuid4().hex[:8]}"
        queue = await channel.declare_queue(name, durable=False, auto_delete=False)
        broker_cleanup.append(name)
        for binding in bindings:
            await queue.bind(exchange, binding)
        return queue

    return declare


async def drain(queue: AbstractQueue) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message waiting in the queue right now, acked."""
    messages = []
    while True:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            return messages
        messages.append(message)


class Collector:
    """Accumulates the decoded bodies (and messages) that arrive on a queue."""

    def __init__(self, queue: AbstractQueue) -> None:
        self.queue = queue
        self.messages: list[aio_pika.abc.AbstractIncomingMessage] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.body) for m in self.messages]

    async def poll(self) -> list[dict[str, Any]]:
        self.messages.extend(await drain(self.queue))
        return self.bodies
