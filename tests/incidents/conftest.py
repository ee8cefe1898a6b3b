"""Incident tests run the real consumer against real RabbitMQ and Postgres, in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topology import Topology
from database.engine import create_engine
from messaging.incidents import IncidentPublisher
from messaging.topology import consumer_queue_names, declare_consumer, declare_incidents_exchange
from services.notification.incidents import consumer_spec, incident_consumer
from services.notification.incidents.rules import load_rules
from tests.support.waiting import eventually


@dataclass
class Outcomes:
    """What the consumer did with each message, by message id."""

    seen: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def record(self, outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
        self.seen.append((outcome, message.message_id, reason))

    def of(self, message_id: str) -> list[str]:
        return [outcome for outcome, mid, _ in self.seen if mid == message_id]


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


async def notifications_about(engine: AsyncEngine, incident_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT user_id, type, priority, title, message, entity_type, entity_id, "
                "entity_url FROM notification.notifications WHERE entity_id = :id "
                "ORDER BY user_id"
            ),
            {"id": incident_id},
        )
        return [dict(row._mapping) for row in rows]


async def wait_for_notifications(
    engine: AsyncEngine, incident_id: str, count: int
) -> list[dict[str, Any]]:
    return await eventually(
        lambda: notifications_about(engine, incident_id),
        lambda rows: len(rows) >= count,
        what=f"{count} notifications about incident {incident_id}",
    )


async def dead_letters(
    connection: AbstractRobustConnection, topology: Topology, count: int
) -> list[AbstractIncomingMessage]:
    """Take `count` messages from the incident consumer's DLQ (waiting for them)."""
    channel = await connection.channel()
    queue = await channel.get_queue(topology.dead_letter_queue(consumer_spec(topology).name))
    taken: list[AbstractIncomingMessage] = []

    async def take() -> int:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            taken.append(message)
        return len(taken)

    await eventually(take, lambda n: n >= count, what=f"{count} dead-lettered messages")  # type: ignore[arg-type]
    await channel.close()
    return taken


def raw_message(body: bytes, **properties: Any) -> aio_pika.Message:
    return aio_pika.Message(body=body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties)
