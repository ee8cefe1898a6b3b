"""Restart RabbitMQ (a private node, with its own stop_app/start_app) in the middle of a burst:
the relay and every consumer reconnect by themselves, every queue has its consumer again (the
aio-pika reconnection pitfall), and every accepted notification still reaches the socket, the
SMTP server and the webhook receiver exactly once. The realtime instance's self-check runs
throughout and must find nothing to repair: the reconnect itself left no user unbound."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.support.burst import Burst, Follower, assert_each_accepted_delivered_once
from tests.support.system import PrivateRabbitMq, System
from tests.support.users import new_user
from tests.support.waiting import eventually, eventually_sync

CONSUMERS = ("email", "webhook", "notification-deliveries")


def consumer_counts(rabbit: PrivateRabbitMq, system: System) -> dict[str, int]:
    counts = rabbit.consumers()
    prefix = f"{system.namespace}.realtime"
    realtime = sum(n for queue, n in counts.items() if queue.startswith(prefix))
    return {**{c: counts.get(system.topology.queue(c), 0) for c in CONSUMERS}, "realtime": realtime}


async def realtime_metric(system: System, name: str) -> float:
    async with httpx.AsyncClient(base_url=system.realtime_url(), timeout=5) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split(" ", 1)[1])
    raise AssertionError(f"{name} not in the realtime metrics")


async def restart(rabbit: PrivateRabbitMq, during_outage: Callable[[], object] | None) -> None:
    await asyncio.to_thread(rabbit.stop_app)
    if during_outage is not None:
        during_outage()
    await asyncio.sleep(1.0)
    await asyncio.to_thread(rabbit.start_app)


async def restart_broker_mid_burst(
    start_system: Callable[..., System],
    rabbit: PrivateRabbitMq,
    total: int,
    users: int,
    restarts: int = 1,
    late_user: bool = False,
) -> None:
    """`restarts` stop/start cycles after a third of the burst, each once the realtime instance
    reconnected after the previous one; with `late_user`, one more user's first socket
    connects (with `since=0`) while the broker is stopped."""
    system = start_system(
        amqp_url=rabbit.url,
        realtime_env={"BROKER_RECONNECT_INTERVAL_S": "0.5", "SELF_CHECK_INTERVAL_S": "5"},
    )
    people = [new_user("broker") for _ in range(users)]
    late = new_user("late") if late_user else None
    for user in [*people, *([late] if late else [])]:
        system.subscribe(user)
        system.register_webhook(user)
    followers = [await Follower([system.ws_url()], user).start() for user in people]

    def connect_late() -> None:
        assert late is not None
        follower = Follower([system.ws_url()], late)
        follower.last_seq = 0  # its socket must show every notification, made before it too
        followers.append(follower)
        asyncio.get_running_loop().create_task(follower.start(wait=False))

    try:
        burst = Burst(system.api_url, [*people, *([late] if late else [])], total)
        running = asyncio.create_task(burst.run())
        await eventually(
            burst.done, lambda n: n >= total // 3, timeout=120, what="a third answered"
        )
        for cycle in range(restarts):
            reconnects = await realtime_metric(system, "tocsin_realtime_broker_reconnects_total")
            await restart(rabbit, connect_late if late and cycle == 0 else None)
            await eventually(
                lambda: realtime_metric(system, "tocsin_realtime_broker_reconnects_total"),
                lambda n, before=reconnects: n > before,  # type: ignore[misc]
                timeout=60,
                interval=0.2,
                what=f"the realtime instance reconnected after restart {cycle + 1}",
            )
        await asyncio.wait_for(running, timeout=300)
        await asyncio.to_thread(
            eventually_sync,
            lambda: consumer_counts(rabbit, system),
            lambda counts: all(n >= 1 for n in counts.values()),
            timeout=60,
            interval=0.5,
            what="a consumer on every queue after the restart",
        )
        await assert_each_accepted_delivered_once(
            system, burst, {f.user: (lambda f=f: f.new) for f in followers}
        )
        assert await realtime_metric(system, "tocsin_realtime_self_checks_total") >= 1
        assert await realtime_metric(system, "tocsin_realtime_stalled_users_total") == 0
        assert await realtime_metric(system, "tocsin_realtime_rebind_failures_total") == 0
    finally:
        for follower in followers:
            await follower.stop()


async def test_broker_restart_mid_burst_loses_nothing_and_every_queue_has_its_consumer(
    private_rabbitmq: PrivateRabbitMq, start_system: Callable[..., System]
) -> None:
    await restart_broker_mid_burst(start_system, private_rabbitmq, total=300, users=6)


@pytest.mark.timeout(600)
async def test_broker_restart_mid_burst_of_thousands(
    private_rabbitmq: PrivateRabbitMq, start_system: Callable[..., System]
) -> None:
    await restart_broker_mid_burst(start_system, private_rabbitmq, total=3000, users=20)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_broker_restarted_twice_in_a_row_mid_burst_of_thousands(
    private_rabbitmq: PrivateRabbitMq, start_system: Callable[..., System]
) -> None:
    await restart_broker_mid_burst(start_system, private_rabbitmq, total=3000, users=20, restarts=2)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_socket_connecting_while_the_broker_is_down_gets_everything(
    private_rabbitmq: PrivateRabbitMq, start_system: Callable[..., System]
) -> None:
    await restart_broker_mid_burst(
        start_system, private_rabbitmq, total=3000, users=20, late_user=True
    )
