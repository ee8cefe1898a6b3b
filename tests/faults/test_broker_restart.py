"""Restart RabbitMQ (a private node, with its own stop_app/start_app) in the middle of a burst:
the relay and every consumer reconnect by themselves, every queue has its consumer again (the
aio-pika reconnection pitfall), and every accepted notification still reaches the socket, the
SMTP server and the webhook receiver exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.faults.burst import Burst, Follower, assert_each_accepted_delivered_once
from tests.support.system import PrivateRabbitMq, System, unique_user
from tests.support.waiting import eventually, eventually_sync

CONSUMERS = ("email", "webhook", "notification-deliveries")


def consumer_counts(rabbit: PrivateRabbitMq, system: System) -> dict[str, int]:
    counts = rabbit.consumers()
    prefix = f"{system.namespace}.realtime"
    realtime = sum(n for queue, n in counts.items() if queue.startswith(prefix))
    return {**{c: counts.get(system.topology.queue(c), 0) for c in CONSUMERS}, "realtime": realtime}


async def restart_broker_mid_burst(
    start_system: Callable[..., System], rabbit: PrivateRabbitMq, total: int, users: int
) -> None:
    system = start_system(amqp_url=rabbit.url)
    people = [unique_user("broker") for _ in range(users)]
    for user in people:
        system.subscribe(user)
        system.register_webhook(user)
    followers = [await Follower([system.ws_url()], user).start() for user in people]
    try:
        burst = Burst(system.api_url, people, total=total, concurrency=8)
        running = asyncio.create_task(burst.run())
        await eventually(
            burst.done, lambda n: n >= total // 3, timeout=120, what="a third answered"
        )
        await asyncio.to_thread(rabbit.stop_app)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(rabbit.start_app)
        await asyncio.wait_for(running, timeout=300)
        await asyncio.to_thread(
            eventually_sync,
            lambda: consumer_counts(rabbit, system),
            lambda counts: all(n >= 1 for n in counts.values()),
            timeout=60,
            interval=1.0,
            what="a consumer on every queue after the restart",
        )
        await assert_each_accepted_delivered_once(
            system, burst, {f.user: (lambda f=f: f.new) for f in followers}
        )
    finally:
        for follower in followers:
            await follower.stop()


async def test_broker_restart_mid_burst_loses_nothing_and_every_queue_has_its_consumer(
    private_rabbitmq: PrivateRabbitMq, start_system: Callable[..., System]
) -> None:
    await restart_broker_mid_burst(start_system, private_rabbitmq, total=300, users=6)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_broker_restart_mid_burst_of_thousands(
    private_rabbitmq: PrivateRabbitMq, start_system: Callable[..., System]
) -> None:
    await restart_broker_mid_burst(start_system, private_rabbitmq, total=3000, users=20)
