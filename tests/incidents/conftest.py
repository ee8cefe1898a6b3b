"""Incident tests run the real consumer against real RabbitMQ and Postgres, in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topology import Topology
from database.engine import create_engine
from messaging.incidents import IncidentPublisher
from messaging.topology import consumer_queue_names, declare_consumer, declare_incidents_exchange
from services.notification.incidents import consumer_spec, incident_consumer
from services.notification.incidents.rules import load_rules
from tests.support.incident_consumer import Outcomes


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=4, max_overflow=4)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def incident_queues(
    amqp_connection: AbstractRobustConnection, topology: Topology, broker_cleanup: list[str]
) -> list[str]:
    """Declares the consumer's queues first, so the publisher's mandatory publish is routed."""
    spec = consumer_spec(topology)
    names = consumer_queue_names(topology, spec.name, spec.retry_delays_ms)
    broker_cleanup.extend(names)
    channel = await amqp_connection.channel()
    await declare_incidents_exchange(channel, topology)
    await declare_consumer(channel, topology, spec)
    await channel.close()
    return names


@pytest.fixture
async def consumer(
    engine: AsyncEngine, amqp_url: str, topology: Topology, incident_queues: list[str]
) -> AsyncIterator[Outcomes]:
    outcomes = Outcomes()
    async with incident_consumer(engine, amqp_url, topology, load_rules(), outcomes.record):
        yield outcomes


@pytest.fixture
async def publisher(amqp_url: str, topology: Topology) -> AsyncIterator[IncidentPublisher]:
    async with IncidentPublisher(amqp_url, namespace=topology.namespace) as publisher:
        yield publisher
