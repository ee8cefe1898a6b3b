"""The relay's urgent lane: a critical notification is published ahead of a backlog of
ordinary events, after its user's earlier events, and every user's events keep their seq
order across the two lanes."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from contracts.topology import binding_for_user
from database.engine import plain_url
from services.notification.app import create_app
from services.notification.settings import Settings
from services.notification.workers import relay_for
from tests.notification.test_relay import BoundQueue
from tests.support.backlog import insert_backlog, unpublished
from tests.support.databases import migrated_database
from tests.support.in_process import serving
from tests.support.queues import Collector
from tests.support.users import new_user
from tests.support.waiting import eventually

CREATE = "/api/v1/notifications"
BACKLOG = 20_000


@pytest.fixture
def own_database(postgres_server_url: str) -> Iterator[str]:
    """A store of the test's own: its backlog must not slow other tests' relays."""
    with migrated_database(postgres_server_url, prefix="tocsin_urgent") as url:
        yield url


@pytest.fixture
def lane_settings(settings: Settings, own_database: str) -> Settings:
    return settings.model_copy(update={"database_url": own_database, "relay_enabled": False})


@pytest.fixture
async def store(own_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(plain_url(own_database))
    try:
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def relaying(settings: Settings, **overrides: Any) -> AsyncIterator[None]:
    relay = relay_for(settings.model_copy(update=overrides))
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], user: str, priority: str, title: str
) -> None:
    r = await client.post(
        CREATE,
        json={"recipients": [user], "type": "incident_created", "title": title,
              "priority": priority},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text


async def test_a_critical_notification_overtakes_a_backlog_after_its_users_earlier_events(
    lane_settings: Settings,
    store: asyncpg.Connection,
    bound_queue: BoundQueue,
    service_headers: dict[str, str],
) -> None:
    user = new_user("urgent")
    queue = await bound_queue([binding_for_user(user)])  # the backlog's events go unrouted
    await insert_backlog(store, BACKLOG, 500, new_user("backlog") + "-")
    async with (
        serving(create_app(lane_settings), "http://notification.test") as client,
        relaying(lane_settings),
    ):
        await eventually(lambda: unpublished(store), lambda n: n < BACKLOG, what="relay going")
        for i in range(3):
            await create(client, service_headers, user, "normal", f"ordinary {i}")
        await create(client, service_headers, user, "critical", "the database is down")
        collector = Collector(queue)
        await eventually(collector.poll, lambda b: len(b) == 4, timeout=10, what="the critical one")
        waiting = await unpublished(store)
    assert waiting > BACKLOG // 2, f"only {waiting} of the backlog still waited"
    bodies = collector.bodies
    assert [b["seq"] for b in bodies] == [1, 2, 3, 4]
    priorities = [b["data"]["notification"]["priority"] for b in bodies]
    assert priorities == ["normal", "normal", "normal", "critical"]
    positions = [b["position"] for b in bodies]
    assert positions == sorted(positions)


async def test_each_users_events_keep_their_seq_order_across_the_lanes(
    lane_settings: Settings,
    store: asyncpg.Connection,
    bound_queue: BoundQueue,
    service_headers: dict[str, str],
) -> None:
    users = [new_user("mixed") for _ in range(8)]
    queue = await bound_queue([binding_for_user(u) for u in users])
    await insert_backlog(store, 2_000, 50, new_user("backlog") + "-")
    rng = random.Random(20)
    rounds = 12
    async with (
        serving(create_app(lane_settings), "http://notification.test") as client,
        relaying(lane_settings, relay_batch_size=25, relay_urgent_priorities="critical,high"),
    ):
        for i in range(rounds):
            await asyncio.gather(
                *(
                    create(
                        client, service_headers, u,
                        rng.choice(["low", "normal", "normal", "high", "critical"]), f"{u} {i}",
                    )
                    for u in users
                )
            )  # fmt: skip
        collector = Collector(queue)
        await eventually(
            collector.poll,
            lambda b: len(b) >= rounds * len(users),
            timeout=20,
            what="every notification",
        )
    bodies = collector.bodies
    assert len({b["event_id"] for b in bodies}) == len(bodies) == rounds * len(users)
    for u in users:
        mine = [b for b in bodies if b["user_id"] == u]
        assert [b["seq"] for b in mine] == list(range(1, rounds + 1)), u
        positions = [b["position"] for b in mine]
        assert positions == sorted(positions), u
    in_order: Callable[[list[int]], bool] = lambda p: p == sorted(p)  # noqa: E731
    assert in_order([b["position"] for b in bodies]), "positions go out in publish order"
