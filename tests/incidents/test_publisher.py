"""The IncidentPublisher sends what the AsyncAPI document promises, or raises: nothing is lost."""

from __future__ import annotations

import json

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.topology import Topology
from messaging.incidents import IncidentPublisher
from messaging.publisher import Unroutable
from tests.incidents.samples import sample_assigned_event


async def test_published_message_has_the_documented_properties(
    amqp_url: str,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
) -> None:
    channel = await amqp_connection.channel()
    exchange = await channel.declare_exchange(topology.incidents_exchange, "topic", durable=True)
    queue = await channel.declare_queue(f"{topology.namespace}.probe")
    broker_cleanup.append(queue.name)
    await queue.bind(exchange, "incident.*")
    event = sample_assigned_event()

    async with IncidentPublisher(amqp_url, namespace=topology.namespace) as publisher:
        await publisher.publish(event)

    message = await queue.get(no_ack=True, timeout=10)
    assert message.routing_key == "incident.assigned"
    assert message.content_type == "application/json"
    assert message.message_id == event.event_id
    assert message.type == "incident.assigned"
    assert message.delivery_mode == 2
    body = json.loads(message.body)
    assert body["type"] == "incident.assigned"
    assert body["schema_version"] == "1.0"
    assert body["assignee"]["id"] == event.assignee.id
    await channel.close()


async def test_publishing_before_any_queue_is_bound_raises_unroutable(
    amqp_url: str, topology: Topology, broker_cleanup: list[str]
) -> None:
    async with IncidentPublisher(amqp_url, namespace=topology.namespace) as publisher:
        with pytest.raises(Unroutable):
            await publisher.publish(sample_assigned_event())
