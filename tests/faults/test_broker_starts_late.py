"""The consumers start before their broker: the email and webhook services are started against
a private RabbitMQ node that is not running yet. Each serves /healthz at once and answers
/readyz 503 while the broker is missing; once the node is started they become ready by
themselves and deliver a notification, to the SMTP server and to the webhook receiver."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aio_pika
import httpx
import pytest

from contracts.notifications import Channel
from contracts.topology import routing_key
from messaging.publisher import envelope_message, publish_confirmed
from tests.support.email_consumer import created_event
from tests.support.system import PrivateRabbitMq, System, require_private_servers
from tests.support.users import new_user
from tests.support.waiting import eventually

SERVICES = ("email", "webhook")


@pytest.fixture
def late_rabbitmq() -> Iterator[PrivateRabbitMq]:
    """A private node whose port is chosen but which the test starts itself, later."""
    require_private_servers()
    node = PrivateRabbitMq()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def system(database_url: str, late_rabbitmq: PrivateRabbitMq) -> Iterator[System]:
    """Email and webhook services (and the SMTP server and webhook receiver) on the private
    node's address; the services are started by the test."""
    system = System(database_url=database_url, amqp_url=late_rabbitmq.url)
    system.start_receivers()
    try:
        yield system
    finally:
        system.stop()


async def test_email_and_webhook_started_before_the_broker_become_ready_and_deliver(
    system: System, late_rabbitmq: PrivateRabbitMq
) -> None:
    await asyncio.gather(
        *(asyncio.to_thread(system.start_service, name, 60.0, "/healthz") for name in SERVICES)
    )
    ready_urls = {name: f"http://127.0.0.1:{system.ports[name]}/readyz" for name in SERVICES}
    async with httpx.AsyncClient(timeout=5) as http:
        for name, url in ready_urls.items():
            response = await http.get(url)
            assert response.status_code == 503, f"{name} ready without a broker: {response.text}"
        user = new_user("late")
        path = await asyncio.to_thread(system.register_webhook, user)

        await asyncio.to_thread(late_rabbitmq.start)
        for name, url in ready_urls.items():
            await eventually(
                lambda url=url: http.get(url),  # type: ignore[misc]
                lambda response: response.status_code == 200,
                timeout=30,
                interval=0.2,
                what=f"{name} ready once the broker is up",
            )
    assert all(system.processes[name].running() for name in SERVICES)

    event = created_event(
        user_id=user,
        email=f"{user}@example.test",
        channels=(Channel.IN_APP, Channel.EMAIL, Channel.WEBHOOK),
    )
    connection = await aio_pika.connect(late_rabbitmq.url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(system.topology.events_exchange)
        await publish_confirmed(  # mandatory: both consumers' queues must be bound by now
            exchange, envelope_message(event), routing_key(event.type, event.user_id)
        )
    finally:
        await connection.close()

    mails = await eventually(
        lambda: system.smtp.to(f"{user}@example.test"), timeout=20, what="the email"
    )
    hooks = await eventually(lambda: system.receiver.at(path), timeout=20, what="the webhook")
    assert len(mails) == 1
    assert [hook.verified for hook in hooks] == [True]
    assert hooks[0].payload["data"]["event_id"] == event.event_id
