"""The outbox relay: nothing lost, order kept, one relay active at a time."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractQueue

from contracts.topology import binding_for_user
from messaging.topology import declare_events_exchange
from services.notification.app import create_app
from services.notification.outbox import RELAY_HEADER, Relay, next_batch
from services.notification.settings import Settings
from services.notification.workers import relay_for
from tests.support.in_process import serving
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.queues import Collector
from tests.support.users import new_user
from tests.support.waiting import eventually

CREATE = "/api/v1/notifications"
BoundQueue = Callable[[list[str]], Awaitable[AbstractQueue]]


@pytest.fixture
async def client_without_relay(
    settings: Settings, broker_cleanup: list[str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(
        create_app(settings.model_copy(update={"relay_enabled": False})), "http://notification.test"
    ) as c:
        yield c


async def create_for(
    client: httpx.AsyncClient, headers: dict[str, str], users: list[str], rounds: int
) -> None:
    """`rounds` notifications for each user, created concurrently across users."""

    async def one(user: str, i: int) -> None:
        r = await client.post(
            CREATE,
            json={"recipients": [user], "type": "incident_created", "title": f"{user} {i}"},
            headers=headers,
        )
        assert r.status_code == 201, r.text

    for i in range(rounds):
        await asyncio.gather(*(one(u, i) for u in users))


def assert_in_order_and_complete(bodies: list[dict[str, Any]], expected: dict[str, int]) -> None:
    for user, count in expected.items():
        seqs = [b["seq"] for b in bodies if b["user_id"] == user]
        assert seqs == list(range(1, count + 1)), f"{user}: {seqs}"
    positions = [b["position"] for b in bodies]
    assert positions == sorted(positions), "events must arrive in global position order"
    assert len({b["event_id"] for b in bodies}) == len(bodies), "no event twice"


async def recorded_positions(database_url: str, event_ids: list[str]) -> dict[str, int | None]:
    """The global position the event store holds for each event (None: not yet recorded)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_id::text, position FROM notification.events"
            " WHERE event_id = ANY($1::uuid[])",
            event_ids,
        )
    finally:
        await conn.close()
    return {row["event_id"]: row["position"] for row in rows}


async def positions_recorded(database_url: str, bodies: list[dict[str, Any]]) -> None:
    """Wait until every published event has its position recorded, then check it is the one
    it was published with."""
    published = {b["event_id"]: b["position"] for b in bodies}
    recorded = await eventually(
        lambda: recorded_positions(database_url, list(published)),
        lambda r: len(r) == len(published) and None not in r.values(),
        what="positions recorded after the confirms",
    )
    assert recorded == published


@contextlib.asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[Relay]:
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_events_created_while_the_relay_is_stopped_all_arrive_in_order_once_it_starts(
    client_without_relay: httpx.AsyncClient,
    service_headers: dict[str, str],
    bound_queue: BoundQueue,
    settings: Settings,
) -> None:
    users = [new_user() for _ in range(4)]
    collector = Collector(await bound_queue([binding_for_user(u) for u in users]))
    await create_for(client_without_relay, service_headers, users, rounds=15)
    assert await collector.poll() == [], "nothing is published while the relay is stopped"

    relay = relay_for(settings.model_copy(update={"relay_batch_size": 16}))
    async with running(relay):
        bodies = await eventually(
            collector.poll, lambda b: len(b) >= 60, what="all 60 events after the relay started"
        )
        await create_for(client_without_relay, service_headers, users, rounds=2)
        bodies = await eventually(collector.poll, lambda b: len(b) >= 68, what="live events")
        await positions_recorded(settings.database_url, bodies)
    assert_in_order_and_complete(bodies, {u: 17 for u in users})
    assert relay.stats.batches >= 4


async def test_a_batch_confirmed_but_never_recorded_is_published_again_with_later_positions(
    client_without_relay: httpx.AsyncClient,
    service_headers: dict[str, str],
    bound_queue: BoundQueue,
    settings: Settings,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    users = [new_user(), new_user()]
    collector = Collector(await bound_queue([binding_for_user(u) for u in users]))
    await create_for(client_without_relay, service_headers, users, rounds=3)
    # A relay that dies after the broker confirmed its batch and before recording it.
    dying = relay_for(settings)
    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await declare_events_exchange(channel, settings.topology)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await dying.publish(await next_batch(conn, 10_000), exchange)
    finally:
        await conn.close()
    first = await eventually(collector.poll, lambda b: len(b) >= 6, what="the first copies")

    async with running(relay_for(settings)):
        bodies = await eventually(collector.poll, lambda b: len(b) >= 12, what="second copies")
        await positions_recorded(settings.database_url, bodies[6:])
    again = bodies[6:]
    assert sorted(b["event_id"] for b in again) == sorted(b["event_id"] for b in first)
    assert min(b["position"] for b in again) > max(b["position"] for b in first), (
        "a reader that saw the first copies and resumes after them misses nothing"
    )
    assert_in_order_and_complete(first, {u: 3 for u in users})
    assert_in_order_and_complete(again, {u: 3 for u in users})


async def test_relay_retries_while_the_broker_is_unreachable_and_loses_nothing(
    client_without_relay: httpx.AsyncClient,
    service_headers: dict[str, str],
    bound_queue: BoundQueue,
    settings: Settings,
) -> None:
    users = [new_user(), new_user()]
    collector = Collector(await bound_queue([binding_for_user(u) for u in users]))
    relay = relay_for(settings)
    relay.amqp_url = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    relay.max_backoff_s = 0.5
    async with running(relay):
        await create_for(client_without_relay, service_headers, users, rounds=5)
        await eventually(lambda: relay.stats.failures, lambda f: f >= 2, what="failed attempts")
        assert await collector.poll() == []
        relay.amqp_url = settings.amqp_url  # the broker "comes back"
        bodies = await eventually(collector.poll, lambda b: len(b) >= 10, what="all 10 events")
    assert_in_order_and_complete(bodies, {u: 5 for u in users})


def relay_process(name: str, settings: Settings) -> ServiceProcess:
    return ServiceProcess(
        name,
        [sys.executable, "-m", "services.notification", "relay"],
        {
            "DATABASE_URL": settings.database_url,
            "AMQP_URL": settings.amqp_url,
            "TOCSIN_NAMESPACE": settings.tocsin_namespace,
            "RELAY_POLL_INTERVAL_S": "0.2",
            "LOG_LEVEL": "INFO",
        },
    )


async def test_two_relays_never_publish_concurrently_and_the_second_takes_over_when_the_first_dies(
    client_without_relay: httpx.AsyncClient,
    service_headers: dict[str, str],
    bound_queue: BoundQueue,
    settings: Settings,
) -> None:
    users = [new_user() for _ in range(3)]
    collector = Collector(await bound_queue([binding_for_user(u) for u in users]))
    first = relay_process("relay-first", settings).start()
    second: ServiceProcess | None = None
    try:
        await create_for(client_without_relay, service_headers, users, rounds=2)
        await eventually(collector.poll, lambda b: len(b) >= 6, timeout=30, what="first relay")
        second = relay_process("relay-second", settings).start()
        await asyncio.sleep(0.5)  # the second one is up and polling for the lock
        assert second.running()
        await create_for(client_without_relay, service_headers, users, rounds=5)
        await eventually(collector.poll, lambda b: len(b) >= 21, what="events while both run")
        relays_while_both = {m.headers[RELAY_HEADER] for m in collector.messages}
        assert len(relays_while_both) == 1, "only the lock holder publishes"

        first.kill()  # SIGKILL: its Postgres session ends and the lock with it
        await create_for(client_without_relay, service_headers, users, rounds=3)
        bodies = await eventually(
            collector.poll, lambda b: len(b) >= 30, timeout=30, what="events after takeover"
        )
        order = [str(m.headers[RELAY_HEADER]) for m in collector.messages]
        switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
        assert switches == 1 and order[-1] not in relays_while_both, order
        assert_in_order_and_complete(bodies, {u: 10 for u in users})
    finally:
        first.kill()
        if second is not None:
            second.stop()
