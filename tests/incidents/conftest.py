"""Incident tests run the real consumer against real RabbitMQ and Postgres, in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topology import Topology
from database.engine import create_engine
from messaging.incidents import IncidentPublisher
from services.notification.incidents import incident_consumer
from services.notification.incidents.rules import load_rules
from tests.support.incident_consumer import Outcomes
from tests.support.incident_story import incident_queues as incident_queues


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=4, max_overflow=4)
    try:
        yield engine
    finally:
        await engine.dispose()


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
