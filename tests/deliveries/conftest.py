"""The notification service (relay + delivery-status consumer) and the email consumer, both
in-process, over real Postgres, RabbitMQ and an in-process SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from contracts.topology import Topology
from messaging.topology import DEFAULT_RETRY_DELAYS_MS, consumer_queue_names
from services.notification.app import create_app
from services.notification.deliveries import CONSUMER_NAME
from services.notification.settings import Settings
from tests.support import in_process
from tests.support.delivery_status import JWT_SECRET, consuming
from tests.support.email_consumer import UNSUBSCRIBE_SECRET
from tests.support.email_consumer import email_app as email_app
from tests.support.email_consumer import email_db as email_db
from tests.support.email_consumer import email_settings as email_settings
from tests.support.email_consumer import smtp as smtp
from tests.support.waiting import eventually


@pytest.fixture
def notification_settings(database_url: str, amqp_url: str, topology: Topology) -> Settings:
    return in_process.notification_settings(
        database_url,
        amqp_url,
        JWT_SECRET,
        tocsin_namespace=topology.namespace,
        incidents_enabled=False,
        deliveries_enabled=True,
        unsubscribe_secret=UNSUBSCRIBE_SECRET,
    )


@pytest.fixture
async def api(
    notification_settings: Settings,
    topology: Topology,
    broker_cleanup: list[str],
    amqp_connection: AbstractRobustConnection,
) -> AsyncIterator[httpx.AsyncClient]:
    """The notification service with its relay and delivery-status consumer running."""
    broker_cleanup.extend(consumer_queue_names(topology, CONSUMER_NAME, DEFAULT_RETRY_DELAYS_MS))
    app: FastAPI = create_app(notification_settings)
    async with in_process.serving(app, "http://notification.test") as client:
        await eventually(
            lambda: consuming(amqp_connection, topology.queue(CONSUMER_NAME)),
            what="the delivery-status consumer on its queue",
        )
        yield client
