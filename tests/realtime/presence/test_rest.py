"""Presence over REST across real realtime processes: who is online anywhere, who may ask."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contracts.presence import PRESENCE_MAX_USER_IDS
from identity.tokens import EVENTS_READ_SCOPE, PRESENCE_READ_SCOPE, WRITE_SCOPE
from tests.realtime.sockets import Tab
from tests.support.realtime_service import Realtime, StartRealtime, token
from tests.support.users import new_user
from tests.support.waiting import eventually
from tocsin.errors import ApiError
from tocsin.presence import PresenceClient

pytestmark = pytest.mark.usefixtures("redis_client")  # deletes the test's keys afterwards


def reader() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('svc-push', scopes=[PRESENCE_READ_SCOPE])}"}


async def ask(
    realtime: Realtime, path: str, headers: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{realtime.port}") as client:
        return await client.get(path, params=params or None, headers=headers or reader(), timeout=5)


async def users(realtime: Realtime, *user_ids: str) -> dict[str, Any]:
    response = await ask(realtime, "/api/v1/presence", user_ids=",".join(user_ids))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["users"]
    return body


async def test_a_user_connected_to_one_instance_is_online_on_every_instance(
    start_presence: StartRealtime,
) -> None:
    a, b = start_presence(), start_presence()
    here, away = new_user(), new_user()
    tab = await Tab.open(a.url(token(here)))
    await tab.established()
    for realtime in (a, b):
        await eventually(
            lambda r=realtime: users(r, here, away),
            lambda seen: seen == {here: True, away: False},
            what="presence through either instance",
        )
    response = await ask(b, "/api/v1/presence/users")
    assert response.status_code == 200
    assert response.json() == {"user_ids": [here]}
    await tab.close()
    await eventually(
        lambda: users(b, here), lambda seen: seen == {here: False}, what="offline after close"
    )


async def test_a_user_with_tabs_on_two_instances_stays_online_until_the_last_closes(
    start_presence: StartRealtime,
) -> None:
    a, b = start_presence(), start_presence()
    user = new_user()
    first, second = Tab.open(a.url(token(user))), Tab.open(b.url(token(user)))
    tabs = [await first, await second]
    for tab in tabs:
        await tab.established()
    await eventually(lambda: users(a, user), lambda s: s[user], what="online")
    await tabs[0].close()
    # Past the leave delay (0.3 s) and a few heartbeats: still online through the other tab.
    for _ in range(10):
        assert (await users(a, user))[user], "one tab is still open on b"
        await tabs[1].send({"type": "ping"})
        await tabs[1].wait_for("pong", lambda m: len([x for x in m if x["event"] == "pong"]) >= 1)
    await eventually(lambda: a.metrics(), lambda m: m["tocsin_realtime_users"] == 0, what="a")
    assert (await users(a, user))[user]
    await tabs[1].close()
    await eventually(lambda: users(a, user), lambda s: not s[user], what="offline")


async def test_a_reload_does_not_show_the_user_offline(start_presence: StartRealtime) -> None:
    realtime = start_presence(PRESENCE_LEAVE_DELAY_S="3")
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    await eventually(lambda: users(realtime, user), lambda s: s[user], what="online")
    await tab.close()
    reloaded = await Tab.open(realtime.url(token(user)))
    await reloaded.established()
    assert (await users(realtime, user))[user]
    await reloaded.close()


REFUSED = [
    ({}, 401, "missing_token"),
    ({"Authorization": "Bearer not-a-jwt"}, 401, "invalid_token"),
    ({"Authorization": f"Bearer {token('svc', ttl_s=-10)}"}, 401, "invalid_token"),
    ({"Authorization": f"Bearer {token('svc', scopes=[WRITE_SCOPE])}"}, 403, "insufficient_scope"),
    ({"Authorization": f"Bearer {token('svc', scopes=[EVENTS_READ_SCOPE])}"}, 403, None),
    ({"Authorization": f"Bearer {token('someone')}"}, 403, "insufficient_scope"),
]


async def test_only_a_presence_read_token_may_ask_about_other_users(
    start_presence: StartRealtime,
) -> None:
    realtime = start_presence()
    for headers, status, code in REFUSED:
        for path, params in (
            ("/api/v1/presence", {"user_ids": "alice,bob"}),
            ("/api/v1/presence/users", {}),
        ):
            response = await ask(realtime, path, headers or {"X-No-Token": "1"}, **params)
            assert response.status_code == status, (headers, path, response.text)
            assert response.json()["error"]["code"] == (code or "insufficient_scope")
            assert "alice" not in response.text and "bob" not in response.text
    for path, params in (
        ("/api/v1/presence", {"user_ids": "alice,bob"}),
        ("/api/v1/presence/users", {}),
    ):
        assert (await ask(realtime, path, reader(), **params)).status_code == 200


async def test_a_user_token_may_ask_about_itself_only(start_presence: StartRealtime) -> None:
    realtime = start_presence()
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    own = {"Authorization": f"Bearer {token(user)}"}
    await eventually(
        lambda: ask(realtime, "/api/v1/presence", own, user_ids=user),
        lambda r: r.status_code == 200 and r.json() == {"users": {user: True}},
        what="a user seeing itself online",
    )
    other = await ask(realtime, "/api/v1/presence", own, user_ids=f"{user},{new_user()}")
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "insufficient_scope"
    await tab.close()


BAD_USER_IDS = [  # as they appear in the query string
    (None, "invalid_user_ids"),
    ("", "invalid_user_ids"),
    (",,", "invalid_user_ids"),
    ("a,,b", "invalid_user_ids"),
    ("x" * 256, "invalid_user_ids"),
    ("a%00b", "invalid_user_ids"),
    ("a%0Ab", "invalid_user_ids"),
    ("%E2%80%8B", "invalid_user_ids"),  # a zero-width space
    ("%ED%A0%80", "invalid_user_ids"),  # a lone surrogate, UTF-8 encoded
    ("caf%C3", "invalid_user_ids"),  # cut in the middle of a character
    (",".join(f"u{i}" for i in range(PRESENCE_MAX_USER_IDS + 1)), "too_many_user_ids"),
    ("x" * 30_000, "too_many_user_ids"),  # past 32 KiB the request line gets 431 first
]


async def test_bad_user_ids_get_a_422_with_a_stable_code(start_presence: StartRealtime) -> None:
    realtime = start_presence()
    for user_ids, code in BAD_USER_IDS:
        query = "" if user_ids is None else f"?user_ids={user_ids}"
        response = await ask(realtime, f"/api/v1/presence{query}")
        assert response.status_code == 422, (user_ids, response.text)
        assert response.json()["error"]["code"] == code, user_ids
    ids = [new_user() for _ in range(PRESENCE_MAX_USER_IDS)]
    assert await users(realtime, *ids) == dict.fromkeys(ids, False)


async def test_the_python_client_asks_any_instance_about_the_whole_cluster(
    start_presence: StartRealtime,
) -> None:
    a, b = start_presence(), start_presence()
    user = new_user()
    tab = await Tab.open(a.url(token(user)))
    await tab.established()
    strangers = [new_user() for _ in range(PRESENCE_MAX_USER_IDS + 20)]  # two requests
    tok = token("svc-push", scopes=[PRESENCE_READ_SCOPE])
    async with PresenceClient(f"http://127.0.0.1:{b.port}", tok) as presence:
        answer = await eventually(
            lambda: presence.users_connected([user, *strangers]),
            lambda seen: seen[user],
            what="the user online through b",
        )
        assert answer == {user: True, **dict.fromkeys(strangers, False)}
        assert await presence.get_connected_users() == [user]
        assert await presence.is_user_connected(user)
    async with PresenceClient(f"http://127.0.0.1:{b.port}", token("svc-x")) as refused:
        with pytest.raises(ApiError) as failure:
            await refused.get_connected_users()
    assert (failure.value.status, failure.value.code) == (403, "insufficient_scope")
    await tab.close()
