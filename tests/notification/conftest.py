"""Fixtures for the notification service: the app in-process (lifespan started, relay on),
tokens, and queues bound to the test's own events exchange."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractQueue

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


@pytest.fixture
async def client(settings: Settings, broker_cleanup: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (and relay) running, called in-process."""
    async with serving(create_app(settings), "http://notification.test") as c:
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
