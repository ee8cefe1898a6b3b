"""Fixtures for the push service: local push services (Web Push, FCM, APNs) that check what
they receive, settings with short delays, the service (API + consumer + timers) running in
this test's event loop. What tests call to publish events and register devices is in
tests/support/push_service.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.topology import Topology
from messaging.topology import consumer_queue_names
from services.push.app import create_app
from services.push.settings import Settings
from tests.push.servers import ApnsService, FcmService, WebPushService
from tests.support.push_service import JWT_SECRET, RETRY_DELAYS_MS, VAPID_PRIVATE, PushService
from tests.support.waiting import eventually


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
