"""After a broker restart the instance consumes again and its users' bindings come back."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest

from contracts.topology import Topology, routing_key
from messaging.publisher import envelope_message
from messaging.topology import declare_events_exchange
from tests.realtime.sockets import Tab
from tests.support.realtime_service import StartRealtime, created, token
from tests.support.system import PrivateRabbitMq
from tests.support.users import new_user
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


async def _publish_until_seen(url: str, topology: Topology, tab: Tab, user: str, seq: int) -> None:
    """Publish the event again until the tab shows it (the broker may still be coming back)."""

    async def attempt() -> bool:
        try:
            connection = await aio_pika.connect(url, timeout=5)
        except Exception:
            return False
        async with connection:
            channel = await connection.channel()
            exchange = await declare_events_exchange(channel, topology)
            event = created(user, seq)
            await exchange.publish(envelope_message(event), routing_key(event.type, user))
        await asyncio.sleep(0.3)
        return any(m.get("seq") == seq for m in tab.messages)

    await eventually(attempt, timeout=60, interval=0.5, what=f"event {seq} at the socket")


async def test_after_a_broker_restart_sockets_are_told_to_catch_up_and_delivery_resumes(
    private_rabbitmq: PrivateRabbitMq, start_realtime: StartRealtime
) -> None:
    topology = Topology(namespace=f"tocsin-test-{uuid.uuid4().hex[:10]}")
    realtime = start_realtime(AMQP_URL=private_rabbitmq.url, TOCSIN_NAMESPACE=topology.namespace)
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    await _publish_until_seen(private_rabbitmq.url, topology, tab, user, 1)

    await asyncio.to_thread(private_rabbitmq.stop_app)
    await asyncio.to_thread(private_rabbitmq.start_app)

    # Events published while the queue was gone reached no one: once consuming and bound again,
    # the instance closes its sockets with 1012 so that clients reconnect with `since`.
    assert await tab.closed(timeout=60) == 1012
    again = await Tab.open(realtime.url(token(user), since=1))
    await again.established()
    await _publish_until_seen(private_rabbitmq.url, topology, again, user, 2)
    assert [m.get("seq") for m in again.messages[1:]] == [2, 2]
    await eventually(
        lambda: realtime.metrics()["tocsin_realtime_bound_users"], lambda n: n == 1, what="bound"
    )
    await again.close()
