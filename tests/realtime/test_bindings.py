"""Users arriving together are bound in few broker round trips, and each one's events arrive."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika

from contracts.realtime import REALTIME_PUSH
from contracts.topology import Topology, routing_key
from services.realtime.subscription import Subscription
from tests.support.users import new_user
from tests.support.waiting import eventually


async def test_users_arriving_together_share_round_trips_and_each_is_bound(
    amqp_url: str,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
) -> None:
    received: list[str] = []
    subscription = Subscription(
        amqp_url,
        topology,
        uuid.uuid4().hex[:8],
        grace_s=0.5,
        handler=lambda key, body, message_id: received.append(key),
        bind_channels=2,
    )
    await subscription.start()
    try:
        users = [new_user(f"user-{i}") for i in range(200)]
        await asyncio.gather(*(subscription.acquire(u) for u in users))
        assert subscription.bound_users() == len(users)
        assert subscription.bind_batches() < len(users) / 4

        channel = await amqp_connection.channel()
        exchange = await channel.get_exchange(topology.events_exchange)
        keys = [routing_key(REALTIME_PUSH, u) for u in users]
        for key in keys:
            await exchange.publish(aio_pika.Message(b"{}"), routing_key=key)
        await eventually(lambda: sorted(received), lambda seen: seen == sorted(keys),
                         what="one message per bound user")  # fmt: skip
    finally:
        await subscription.close()
