"""Realtime instances as real processes, the notification API beside them, and a publisher on
the test's exchange; tokens and event builders are in tests/support/realtime_service.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest

from contracts.events import EventEnvelope
from contracts.topology import Topology, routing_key
from messaging.publisher import envelope_message
from messaging.topology import declare_events_exchange
from tests.support.infra import free_port
from tests.support.notification_process import notification_process
from tests.support.processes import ServiceProcess
from tests.support.realtime_service import (
    JWT_SECRET,
    NotificationApi,
    Publish,
    StartNotificationApi,
)
from tests.support.realtime_service import start_realtime as start_realtime
from tests.support.system import PrivateRabbitMq, require_private_servers


@pytest.fixture
async def publish(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
) -> AsyncIterator[Publish]:
    """Publish an event on the test's events exchange, as the notification relay does."""
    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await declare_events_exchange(channel, topology)

    async def publish_one(envelope: EventEnvelope) -> None:
        await exchange.publish(
            envelope_message(envelope),
            routing_key=routing_key(envelope.type, envelope.user_id),
            timeout=10,
        )

    yield publish_one
    await channel.close()


@pytest.fixture
def start_notification_api(database_url: str, topology: Topology) -> Iterator[StartNotificationApi]:
    """`start_notification_api(amqp_url)` runs the notification service on that broker, on the
    test's namespace; each one started is stopped after the test."""
    started: list[ServiceProcess] = []

    def start(amqp_url: str) -> NotificationApi:
        port = free_port()
        process = notification_process(
            database_url,
            amqp_url,
            topology,
            JWT_SECRET,
            port,
            DELIVERIES_ENABLED="false",  # its queues would outlive the test
        )
        started.append(process)
        process.start()
        return NotificationApi(process, f"http://127.0.0.1:{port}")

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def notification_api(
    start_notification_api: StartNotificationApi, amqp_url: str, broker_cleanup: list[str]
) -> NotificationApi:
    return start_notification_api(amqp_url)


@pytest.fixture
def private_rabbitmq() -> Iterator[PrivateRabbitMq]:
    require_private_servers()
    node = PrivateRabbitMq()
    try:
        yield node.start()
    finally:
        node.stop()
