"""After a broker restart, every user the subscription counts as bound is bound on the broker,
including users whose bind was asked for while the broker was away."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contracts.topology import Topology, binding_for_user
from services.realtime.subscription import Subscription
from tests.support.system import PrivateRabbitMq
from tests.support.users import new_user


@pytest.mark.slow
async def test_after_a_restart_what_the_instance_counts_as_bound_is_bound_on_the_broker(
    private_rabbitmq: PrivateRabbitMq, topology: Topology
) -> None:
    instance = f"rebind-{uuid.uuid4().hex[:6]}"
    subscription = Subscription(
        private_rabbitmq.url,
        topology,
        instance,
        grace_s=0.5,
        handler=lambda key, body, message_id: None,
        reconnect_interval_s=0.2,
    )
    reconnected = asyncio.Event()
    subscription.on_reconnected = reconnected.set
    await subscription.start()
    try:
        users = [new_user() for _ in range(40)]
        await asyncio.gather(*(subscription.acquire(u) for u in users))
        leaving = users[:8]  # their last socket closes while the broker is away
        await asyncio.to_thread(private_rabbitmq.stop_app)
        for user_id in leaving:
            subscription.release(user_id)
        arriving = [new_user() for _ in range(16)]
        binding = [asyncio.create_task(subscription.acquire(u)) for u in arriving]
        await asyncio.sleep(1.0)  # past the grace: the leaving users' unbinds wait too
        back = [asyncio.create_task(subscription.acquire(u)) for u in leaving[:4]]
        await asyncio.to_thread(private_rabbitmq.start_app)
        await asyncio.wait_for(reconnected.wait(), 120)
        await asyncio.gather(*binding, *back, return_exceptions=True)

        queue = topology.realtime_queue(instance)
        on_broker = await asyncio.to_thread(private_rabbitmq.bindings, queue)
        believed = [u for u in [*users, *arriving] if subscription.is_bound(u)]
        missing = [u for u in believed if binding_for_user(u) not in on_broker]
        assert missing == [], f"counted as bound, not bound on the broker: {missing}"
        # Whoever is not counted as bound binds afresh on its next socket.
        await asyncio.gather(*(subscription.acquire(u) for u in [*users, *arriving]))
        on_broker = await asyncio.to_thread(private_rabbitmq.bindings, queue)
        assert {binding_for_user(u) for u in [*users, *arriving]} <= on_broker
    finally:
        await subscription.close()
