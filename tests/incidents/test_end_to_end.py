"""Through the whole notification service: an incident event in, `notification.created` out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.events import EventType, NotificationCreated, event_from_json
from contracts.topology import Topology, binding_for_type
from messaging.incidents import IncidentPublisher
from observability.metrics import parse_metrics
from services.notification.app import create_app
from services.notification.settings import Settings
from tests.incidents.samples import sample_created_event
from tests.support.in_process import notification_settings, serving
from tests.support.waiting import eventually

JWT_SECRET = "incident-end-to-end-secret"


@pytest.fixture
def settings(database_url: str, amqp_url: str, topology: Topology) -> Settings:
    return notification_settings(
        database_url,
        amqp_url,
        JWT_SECRET,
        tocsin_namespace=topology.namespace,
        deliveries_enabled=False,  # its queues are tested in tests/deliveries
    )


@pytest.fixture
async def app_running(
    settings: Settings, incident_queues: list[str]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with serving(app, "http://n.test") as client:
        yield client


async def test_incident_event_becomes_notification_created_events_on_the_events_exchange(
    app_running: httpx.AsyncClient,
    publisher: IncidentPublisher,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
) -> None:
    channel = await amqp_connection.channel()
    exchange = await channel.declare_exchange(
        topology.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    probe = await channel.declare_queue(f"{topology.namespace}.probe.{uuid.uuid4().hex[:8]}")
    broker_cleanup.append(probe.name)
    await probe.bind(exchange, binding_for_type(EventType.NOTIFICATION_CREATED.value))
    event = sample_created_event(watchers=2, team=1)
    expected = {p.id for p in [*event.watchers, *event.team_members]} - {event.actor.id}  # type: ignore[union-attr]
    mine: list[NotificationCreated] = []

    async def take() -> set[str]:
        # The relay also publishes events that other tests left in the shared database.
        while (message := await probe.get(no_ack=True, fail=False)) is not None:
            envelope = event_from_json(message.body)
            if envelope.user_id in expected:
                created = envelope.data_as(NotificationCreated)
                assert envelope.stats is not None and envelope.stats.unread == 1
                mine.append(created)
        return {c.recipient.user_id for c in mine}

    await publisher.publish(event)

    await eventually(take, lambda users: users == expected, what="notification.created per person")  # type: ignore[arg-type]
    assert len(mine) == len(expected)
    assert {c.notification.type for c in mine} == {"incident_created"}
    assert {c.notification.entity_id for c in mine} == {event.incident.id}
    await channel.close()

    metrics = parse_metrics((await app_running.get("/metrics")).text)
    assert metrics['tocsin_notification_incident_events_total{outcome="acked",reason=""}'] >= 1
    assert metrics["tocsin_notification_incident_batch_size_count"] >= 1
