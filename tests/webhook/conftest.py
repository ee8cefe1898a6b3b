"""Fixtures for the webhook service: a real HTTP receiver, settings with a compressed retry
schedule, and the service (API + consumer) running in this test's event loop. What tests call
to publish events, register endpoints and read what happened is in
tests/support/webhook_service.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from contracts.topology import Topology
from services.webhook.app import create_app
from services.webhook.settings import Settings
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhook_service import (
    JWT_SECRET,
    RETRY_DELAYS_MS,
    WebhookService,
    forget_global_endpoints,
    webhook_queues,
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


@pytest.fixture
def service_factory(
    settings_for: Callable[..., Settings],
    topology: Topology,
    amqp_connection: AbstractRobustConnection,
    broker_cleanup: list[str],
) -> Callable[..., Any]:
    """`async with service_factory(**overrides) as service:` runs one webhook service, ready."""
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
                    await eventually(
                        lambda: h.get("/readyz"),
                        lambda r: r.status_code == 200,
                        what="webhook service ready (its consumer on its queue)",
                    )
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
