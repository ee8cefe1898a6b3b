"""The email consumer for a test: a real SMTP server, settings with a compressed retry schedule
and the consumer running in the test's event loop (fixtures the delivery-status tests share),
events to publish to it, and readers of its tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from fastapi import FastAPI

from contracts.events import EventEnvelope
from contracts.notifications import Channel, NotificationData, Priority, Recipient
from contracts.topology import Topology, routing_key
from database.engine import create_engine
from messaging.publisher import envelope_message
from messaging.topology import consumer_queue_names
from services.email.app import create_app
from services.email.settings import Settings
from tests.email.smtp_server import ScriptedSmtp, SmtpServer
from tests.support.events import created_envelope
from tests.support.infra import free_port
from tests.support.users import new_user
from tests.support.waiting import eventually

UNSUBSCRIBE_SECRET = "test-unsubscribe-secret"
RETRY_DELAYS_MS = [100, 200, 300]


@pytest.fixture
def smtp() -> Iterator[ScriptedSmtp]:
    handler = ScriptedSmtp()
    with SmtpServer(handler):
        yield handler


@pytest.fixture
def email_settings(
    database_url: str, amqp_url: str, topology: Topology, smtp: ScriptedSmtp
) -> Settings:
    return Settings(
        database_url=database_url,
        amqp_url=amqp_url,
        tocsin_namespace=topology.namespace,
        port=free_port(),
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        email_from="Tocsin <notifications@tocsin.test>",
        public_api_url="http://api.tocsin.test",
        app_url="https://app.tocsin.test",
        unsubscribe_secret=UNSUBSCRIBE_SECRET,
        unsubscribe_mailto="unsubscribe@tocsin.test",
        retry_delays_ms=RETRY_DELAYS_MS,
        prefetch=8,
    )


def email_queues(topology: Topology) -> list[str]:
    return consumer_queue_names(topology, "email", RETRY_DELAYS_MS)


@pytest.fixture
async def email_app(
    email_settings: Settings, topology: Topology, broker_cleanup: list[str]
) -> AsyncIterator[FastAPI]:
    """The email consumer, running in this test's event loop, once it is on its queue."""
    broker_cleanup.extend(email_queues(topology))
    app = create_app(email_settings)
    async with app.router.lifespan_context(app):
        await eventually(app.state.consumer.ready, what="the email consumer on its queue")
        yield app


@pytest.fixture
async def email_db(database_url: str) -> AsyncIterator[sa.ext.asyncio.AsyncEngine]:
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    yield engine
    await engine.dispose()


def created_event(
    *,
    user_id: str | None = None,
    email: str | None = "ada@example.test",
    channels: tuple[Channel, ...] = (Channel.IN_APP, Channel.EMAIL),
    title: str = "Database latency is high",
    notification_type: str = "incident_created",
    locale: str | None = None,
    priority: Priority = Priority.HIGH,
) -> EventEnvelope:
    user_id = user_id or new_user("user")
    now = datetime.now(UTC)
    notification = NotificationData(
        id=str(uuid.uuid4()),
        type=notification_type,
        priority=priority,
        title=title,
        message="p99 went from 40 ms to 900 ms in five minutes.",
        entity_type="incident",
        entity_id="INC-42",
        entity_url="/incidents/INC-42",
        created_at=now,
    )
    return created_envelope(
        notification,
        Recipient(user_id=user_id, email=email, name="Ada Lovelace", locale=locale),
        channels,
    )


async def publish(
    connection: AbstractRobustConnection, topology: Topology, *envelopes: EventEnvelope
) -> None:
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.events_exchange)
    for envelope in envelopes:
        await exchange.publish(
            envelope_message(envelope), routing_key(envelope.type, envelope.user_id)
        )
    await channel.close()


async def next_message(
    connection: AbstractRobustConnection, queue_name: str, what: str
) -> AbstractIncomingMessage:
    channel = await connection.channel()
    queue = await channel.get_queue(queue_name, ensure=False)
    return await eventually(lambda: queue.get(no_ack=True, fail=False), what=what, timeout=20)


async def processed(engine: sa.ext.asyncio.AsyncEngine, event_id: str) -> dict[str, object] | None:
    async with engine.connect() as connection:
        row = (
            (
                await connection.execute(
                    sa.text("SELECT * FROM email.processed_events WHERE event_id = :id"),
                    {"id": event_id},
                )
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


async def attempts_log(engine: sa.ext.asyncio.AsyncEngine, event_id: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            sa.text("SELECT outcome FROM email.delivery_log WHERE event_id = :id ORDER BY id"),
            {"id": event_id},
        )
        return [row.outcome for row in rows]
