"""The seed's connection-manager API, called inside a running instance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn

from contracts.topology import Topology
from contracts.websocket import WS_PATH
from services.realtime.app import RealtimeApp, create_app
from services.realtime.settings import Settings
from tests.realtime.sockets import Tab
from tests.support.infra import free_port
from tests.support.realtime_service import JWT_SECRET, notification, token
from tests.support.users import new_user


@pytest.fixture
async def running(
    amqp_url: str, topology: Topology, broker_cleanup: list[str]
) -> AsyncIterator[tuple[RealtimeApp, int]]:
    port = free_port()
    settings = Settings(
        port=port,
        amqp_url=amqp_url,
        tocsin_namespace=topology.namespace,
        jwt_secret=JWT_SECRET,
        allowed_origins="*",
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws="websockets-sansio", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.05)
    yield app, port
    server.should_exit = True
    await asyncio.wait_for(task, 15)


async def test_the_seed_connection_manager_api_reaches_the_right_sockets(
    running: tuple[RealtimeApp, int],
) -> None:
    app, port = running
    hub = app.runtime.hub
    alice, bob, carol = new_user(), new_user(), new_user()
    url = f"ws://127.0.0.1:{port}{WS_PATH}?token="
    tabs = {u: await Tab.open(url + token(u)) for u in (alice, bob, carol)}
    second_alice = await Tab.open(url + token(alice))
    for tab in (*tabs.values(), second_alice):
        await tab.established()
    assert hub.is_user_connected(alice) and not hub.is_user_connected(new_user())
    assert sorted(hub.get_connected_users()) == sorted([alice, bob, carol])

    note = notification(title="Only for Alice")
    assert await hub.broadcast_notification(alice, note) == 2
    await hub.broadcast_stats_update(bob, {"total": 4, "unread": 1})
    await hub.broadcast_notification_to_users([alice, carol], notification(title="Both"))
    await hub.broadcast_to_all({"event": "notification:new", "data": notification(title="All")})

    def seen(tab: Tab) -> list[tuple[str, str]]:
        return [(m["event"], m["data"].get("title", "")) for m in tab.messages[1:]]

    for tab in (tabs[alice], second_alice):
        await tab.wait_for("three messages", lambda m: len(m) == 4)
        assert seen(tab) == [
            ("notification:new", "Only for Alice"),
            ("notification:new", "Both"),
            ("notification:new", "All"),
        ]
    await tabs[bob].wait_for("stats and all", lambda m: len(m) == 3)
    assert seen(tabs[bob]) == [("stats:updated", ""), ("notification:new", "All")]
    await tabs[carol].wait_for("both and all", lambda m: len(m) == 3)
    assert seen(tabs[carol]) == [("notification:new", "Both"), ("notification:new", "All")]
    for tab in (*tabs.values(), second_alice):
        await tab.close()
