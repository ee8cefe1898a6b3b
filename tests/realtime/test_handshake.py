"""Who may connect, and what a client is told when it may not."""

from __future__ import annotations

import time

import pytest
from jose import jwt
from websockets.exceptions import InvalidStatus

from tests.realtime.sockets import Tab
from tests.support.realtime_service import JWT_SECRET, StartRealtime, token
from tests.support.users import new_user


async def test_connection_established_tells_user_seq_and_recovered(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime()  # the notification service is not reachable: the socket opens
    user = new_user()  # with the instance's own latest seq for the user (none seen: 0)
    tab = await Tab.open(realtime.url(token(user)))
    data = await tab.established()
    assert data["user_id"] == user
    assert data["recovered"] is True
    assert data["seq"] == 0
    assert data["message"] and data["timestamp"]
    assert "timestamp" in tab.messages[0]
    await tab.close()


async def test_each_unusable_token_is_closed_with_its_code(start_realtime: StartRealtime) -> None:
    realtime = start_realtime()
    user = new_user()
    now = int(time.time())
    cases = {
        "missing token": (realtime.url(), 4001),
        "empty token": (realtime.url(""), 4001),
        "bad signature": (
            realtime.url(jwt.encode({"sub": user, "exp": now + 60}, "another-secret")),
            4002,
        ),
        "expired": (
            realtime.url(jwt.encode({"sub": user, "exp": now - 5}, JWT_SECRET)),
            4002,
        ),
        "garbage": (realtime.url("not-a-jwt"), 4002),
        "no sub": (realtime.url(jwt.encode({"exp": now + 60}, JWT_SECRET)), 4003),
        "blank sub": (realtime.url(jwt.encode({"sub": "  ", "exp": now + 60}, JWT_SECRET)), 4003),
    }
    seen = {}
    for name, (url, _) in cases.items():
        tab = await Tab.open(url)
        seen[name] = await tab.closed()
        assert tab.messages == [], f"{name}: got {tab.messages}"
    assert seen == {name: code for name, (_, code) in cases.items()}


async def test_wrong_audience_or_issuer_is_closed_4002(start_realtime: StartRealtime) -> None:
    realtime = start_realtime(JWT_AUDIENCE="tocsin", JWT_ISSUER="https://id.example")
    user = new_user()
    exp = int(time.time()) + 60
    good = {"sub": user, "exp": exp, "aud": "tocsin", "iss": "https://id.example"}
    ok = await Tab.open(realtime.url(jwt.encode(good, JWT_SECRET)))
    assert (await ok.established())["user_id"] == user
    for claims in ({**good, "aud": "other"}, {**good, "iss": "https://evil.example"}):
        tab = await Tab.open(realtime.url(jwt.encode(claims, JWT_SECRET)))
        assert await tab.closed() == 4002
    await ok.close()


async def test_browser_origin_outside_the_allowed_list_is_refused(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime(ALLOWED_ORIGINS="http://app.example")
    user = new_user()
    with pytest.raises(InvalidStatus) as refused:
        await Tab.open(realtime.url(token(user)), origin="http://evil.example")
    assert refused.value.response.status_code == 403
    allowed = await Tab.open(realtime.url(token(user)), origin="http://app.example")
    assert (await allowed.established())["user_id"] == user
    no_origin = await Tab.open(realtime.url(token(user)))
    assert (await no_origin.established())["user_id"] == user
    await allowed.close()
    await no_origin.close()


async def test_connections_over_the_per_user_cap_are_closed_4029(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime(MAX_CONNECTIONS_PER_USER="2")
    user = new_user()
    tabs = [await Tab.open(realtime.url(token(user))) for _ in range(2)]
    for tab in tabs:
        await tab.established()
    third = await Tab.open(realtime.url(token(user)))
    assert await third.closed() == 4029
    assert third.close_reason
    other_user = await Tab.open(realtime.url(token(new_user())))
    await other_user.established()
    await tabs[0].close()
    fourth = await Tab.open(realtime.url(token(user)))
    await fourth.established()
    for tab in (tabs[1], fourth, other_user):
        await tab.close()


async def test_since_without_a_reachable_notification_service_is_not_recovered(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime(CATCHUP_TIMEOUT_S="1")  # the catch-up source is not running
    tab = await Tab.open(realtime.url(token(new_user()), since=3))
    data = await tab.established()
    assert data["recovered"] is False
    assert data["seq"] == 3
    await tab.close()
