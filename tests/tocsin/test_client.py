"""The `tocsin` package as another Python service uses it, against the real notification and
realtime services and the real broker, observed by a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets

from identity import mint_token
from identity.tokens import PRESENCE_READ_SCOPE, WRITE_SCOPE
from tests.support.gateway import Gateway
from tests.support.infra import free_port
from tests.support.system import System, running_system
from tests.support.users import new_user
from tests.support.waiting import eventually
from tocsin import ApiError, InvalidPush, PushFailed, Tocsin, TocsinSettings


@pytest.fixture(scope="module")
def system(database_url: str, amqp_url: str) -> Iterator[System]:
    with running_system(
        database_url,
        amqp_url,
        email_enabled=False,
        webhook_enabled=False,
        realtime_env={"PRESENCE_LEAVE_DELAY_S": "0"},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def origin(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real gateway in front of the services: the one URL the client is given."""
    gateway = Gateway(
        tmp_path_factory.mktemp("gateway"),
        {
            "notification": [system.api_url.removeprefix("http://")],
            "realtime": [system.realtime_url().removeprefix("http://")],
            "webhook": [f"127.0.0.1:{free_port()}"],
            "demo": [f"127.0.0.1:{free_port()}"],
        },
    ).start()
    try:
        yield gateway.origin
    finally:
        gateway.stop()


def settings_for(system: System, origin: str, **changes: Any) -> TocsinSettings:
    token = mint_token(
        system.jwt, "billing-service", scopes=[WRITE_SCOPE, PRESENCE_READ_SCOPE], ttl_s=600
    )
    values: dict[str, Any] = {
        "api_url": origin,
        "amqp_url": system.amqp_url,
        "namespace": system.namespace,
        "token": token,
        "timeout_s": 5.0,
        **changes,
    }
    return TocsinSettings(**values)


class Tab:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket

    async def next(self, event: str) -> dict[str, Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(self.socket.recv(), 15))
            if frame["event"] == event:
                return frame


@asynccontextmanager
async def tab(system: System, user: str) -> AsyncIterator[Tab]:
    token = mint_token(system.jwt, user, ttl_s=600)
    async with websockets.connect(f"{system.ws_url()}?token={token}") as socket:
        opened = Tab(socket)
        await opened.next("connection:established")
        yield opened


async def test_send_to_user_reaches_every_tab_and_says_whether_anyone_was_there(
    system: System,
    origin: str,
) -> None:
    user, absent = new_user("push"), new_user("absent")
    async with (
        Tocsin(settings_for(system, origin)) as tocsin,
        tab(system, user) as one,
        tab(system, user) as two,
    ):
        delivered = await tocsin.send_to_user(
            user, {"event": "app:deploy-finished", "data": {"v": 7}}
        )
        frames = [await one.next("app:deploy-finished"), await two.next("app:deploy-finished")]
        nobody = await tocsin.send_to_user(absent, {"event": "app:deploy-finished", "data": {}})
    assert delivered is True and nobody is False
    assert [f["data"] for f in frames] == [{"v": 7}, {"v": 7}]
    assert frames[0]["timestamp"].endswith("Z")


async def test_the_descriptions_broadcast_helpers(system: System, origin: str) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    data = {"id": "n-1", "title": "New Incident Created", "priority": "high", "is_read": False}
    async with (
        Tocsin(settings_for(system, origin)) as tocsin,
        tab(system, alice) as a,
        tab(system, bob) as b,
    ):
        assert await tocsin.broadcast_notification(user_id=alice, notification_data=data)
        assert (await a.next("notification:new"))["data"] == data
        sent = await tocsin.broadcast_notification_to_users(
            user_ids=[alice, bob], notification_data=data
        )
        assert sent == {alice: True, bob: True}
        assert (await a.next("notification:new"))["data"] == data
        assert (await b.next("notification:new"))["data"] == data
        assert await tocsin.broadcast_stats_update(user_id=bob, stats={"total": 10, "unread": 3})
        assert (await b.next("stats:updated"))["data"] == {"total": 10, "unread": 3}
        assert await tocsin.broadcast_to_users(
            [alice], {"event": "app:typing", "data": {"who": bob}}
        )
        assert (await a.next("app:typing"))["data"] == {"who": bob}
        assert await tocsin.broadcast_to_all({"event": "app:maintenance", "data": {"at": "22:00"}})
        assert (await a.next("app:maintenance"))["data"] == {"at": "22:00"}
        assert (await b.next("app:maintenance"))["data"] == {"at": "22:00"}


@pytest.mark.parametrize(
    "event",
    ["connection:established-fake", "notification:spoofed", "stats:x", "NoNamespace", "a b:c", ""],
)
async def test_reserved_or_malformed_event_names_are_refused_before_sending(
    system: System, origin: str, event: str
) -> None:
    user = new_user("bad")
    async with Tocsin(settings_for(system, origin)) as tocsin, tab(system, user) as only:
        with pytest.raises(InvalidPush, match="event"):
            await tocsin.send_to_user(user, {"event": event, "data": {}})
        assert await tocsin.send_to_user(user, {"event": "app:after", "data": {}})
        frame = json.loads(await asyncio.wait_for(only.socket.recv(), 15))
    assert frame["event"] == "app:after"  # the refused push sent nothing before it


async def test_create_notification_is_stored_delivered_and_idempotent(
    system: System, origin: str
) -> None:
    user = new_user("create")
    async with Tocsin(settings_for(system, origin)) as tocsin, tab(system, user) as only:
        first = await tocsin.create_notification(
            [user], "Invoice 42 is overdue", priority="high", idempotency_key=f"inv-42-{user}"
        )
        frame = await only.next("notification:new")
        again = await tocsin.create_notification(
            [user], "Invoice 42 is overdue", priority="high", idempotency_key=f"inv-42-{user}"
        )
        with pytest.raises(ApiError) as conflict:
            await tocsin.create_notification(
                [user], "Another title", idempotency_key=f"inv-42-{user}"
            )
    assert frame["data"]["title"] == "Invoice 42 is overdue"
    assert frame["data"]["id"] == first["notifications"][0]["id"]
    assert again == first
    assert (conflict.value.status, conflict.value.code) == (409, "idempotency_key_reused")


async def test_clear_errors_for_a_bad_token_an_unreachable_api_and_an_unreachable_broker(
    system: System,
    origin: str,
) -> None:
    user = new_user("errors")
    async with Tocsin(settings_for(system, origin, token="not-a-jwt")) as tocsin:
        with pytest.raises(ApiError) as refused:
            await tocsin.create_notification([user], "x")
    assert (refused.value.status, refused.value.code) == (401, "invalid_token")
    closed = f"127.0.0.1:{free_port()}"
    async with Tocsin(
        settings_for(
            system, origin, api_url=f"http://{closed}", amqp_url=f"amqp://guest:guest@{closed}/"
        )
    ) as tocsin:
        with pytest.raises(ApiError) as unreachable:
            await tocsin.create_notification([user], "x")
        with pytest.raises(PushFailed, match="cannot reach the broker"):
            await tocsin.send_to_user(user, {"event": "app:x", "data": {}})
    assert (unreachable.value.status, unreachable.value.code) == (0, "unreachable")


async def test_presence_is_cluster_wide_and_follows_the_users_sockets(
    system: System, origin: str
) -> None:
    user, never = new_user("online"), new_user("never")
    async with Tocsin(settings_for(system, origin)) as tocsin:
        async with tab(system, user):
            assert await eventually(lambda: tocsin.is_user_connected(user), what=f"{user} online")
            assert user in await tocsin.get_connected_users()
            assert await tocsin.users_connected([user, never]) == {user: True, never: False}
            assert await tocsin.is_user_connected(never) is False

        async def gone() -> bool:
            return not await tocsin.is_user_connected(user)

        assert await eventually(gone, what=f"{user} offline after the last tab closed")
        assert user not in await tocsin.get_connected_users()


async def test_presence_needs_the_presence_read_scope(system: System, origin: str) -> None:
    token = mint_token(system.jwt, "sender-only", scopes=[WRITE_SCOPE], ttl_s=600)
    async with Tocsin(settings_for(system, origin, token=token)) as tocsin:
        with pytest.raises(ApiError) as refused:
            await tocsin.get_connected_users()
    assert (refused.value.status, refused.value.code) == (403, "insufficient_scope")
