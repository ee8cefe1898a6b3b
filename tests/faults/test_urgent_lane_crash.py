"""Kill -9 the relay process while both of its lanes hold events (urgent users' events and
an ordinary backlog), start another: every event is published at least once, and each
user's events first arrive in seq order."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator

import aio_pika
import asyncpg
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage

from contracts.topology import Topology
from database.engine import plain_url
from messaging.topology import declare_events_exchange
from services.notification.lanes import oldest_waiting
from tests.support.backlog import insert_backlog, unpublished
from tests.support.databases import migrated_database
from tests.support.infra import unique_namespace
from tests.support.processes import ServiceProcess
from tests.support.users import new_user
from tests.support.waiting import eventually

URGENT_USERS = 200
EARLIER = 30  # ordinary events of each urgent user before its critical one
BACKLOG = 8_000


@pytest.fixture
def own_database(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, prefix="tocsin_urgent_crash") as url:
        yield url


def relay_process(database_url: str, amqp_url: str, namespace: str, name: str) -> ServiceProcess:
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "TOCSIN_NAMESPACE": namespace,
        "RELAY_POLL_INTERVAL_S": "0.2",
        "RELAY_BATCH_SIZE": "100",
        "LOG_LEVEL": "WARNING",
    }
    args = [sys.executable, "-m", "services.notification", "relay"]
    return ServiceProcess(f"urgent-{namespace}-{name}", args, env).start()


async def test_kill_9_of_the_relay_with_both_lanes_waiting_loses_nothing(
    own_database: str, amqp_url: str
) -> None:
    topology = Topology(namespace=unique_namespace())
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    exchange = await declare_events_exchange(channel, topology)
    queue = await channel.declare_queue(f"{topology.namespace}.everything", auto_delete=False)
    await queue.bind(exchange, "#")
    store = await asyncpg.connect(plain_url(own_database))
    processes: list[ServiceProcess] = []
    try:
        urgent = new_user("crash-urgent") + "-"
        await insert_backlog(store, URGENT_USERS * EARLIER, URGENT_USERS, urgent)
        await insert_backlog(store, BACKLOG, 400, new_user("crash-backlog") + "-")
        await insert_backlog(
            store, URGENT_USERS, URGENT_USERS, urgent, "critical", first_seq=EARLIER + 1
        )
        total = await unpublished(store)
        processes.append(relay_process(own_database, amqp_url, topology.namespace, "first"))
        deadline = time.monotonic() + 20
        while await unpublished(store) > total - 300:
            assert time.monotonic() < deadline, "the first relay published nothing"
            await asyncio.sleep(0.005)
        processes[0].kill()
        urgent_age, normal_age = await oldest_waiting(store, ("critical",))
        assert urgent_age is not None and normal_age is not None, "a lane was already empty"

        processes.append(relay_process(own_database, amqp_url, topology.namespace, "second"))
        await eventually(lambda: unpublished(store), lambda n: n == 0, timeout=30, what="drained")

        ids = {r["event_id"] for r in await store.fetch(
            "SELECT event_id::text FROM notification.events")}  # fmt: skip
        received: list[dict[str, object]] = []
        await channel.set_qos(prefetch_count=1000)

        async def take(message: AbstractIncomingMessage) -> None:
            received.append(orjson.loads(message.body))

        async def distinct() -> int:
            return len({b["event_id"] for b in received})

        await queue.consume(take, no_ack=True)
        await eventually(
            distinct,
            lambda n: n == len(ids),
            timeout=30,
            what="every event on the queue",
        )
    finally:
        for process in processes:
            process.stop()
        await store.close()
        await channel.queue_delete(queue.name)
        await channel.exchange_delete(topology.events_exchange)
        await connection.close()
    assert {b["event_id"] for b in received} == ids
    seen: set[object] = set()
    last: dict[object, int] = {}
    for body in received:
        if body["event_id"] in seen:
            continue
        seen.add(body["event_id"])
        seq = int(str(body["seq"]))
        assert seq > last.get(body["user_id"], 0), f"{body['user_id']} out of order"
        last[body["user_id"]] = seq
