"""Presence when things break: a realtime instance killed with SIGKILL, the store restarted."""

from __future__ import annotations

import time

import pytest

from tests.realtime.presence.test_rest import ask, users
from tests.realtime.sockets import Tab
from tests.support.presence import PrivateRedis
from tests.support.realtime_service import StartRealtime, token
from tests.support.users import new_user
from tests.support.waiting import eventually

DEFAULT_DEAD_AFTER_S = 10.0
MARGIN_S = 5.0


@pytest.mark.usefixtures("redis_client")
async def test_kill_9_takes_the_dead_instances_users_offline_within_the_bound(
    start_presence: StartRealtime,
) -> None:
    # The documented defaults: heartbeat 2 s, an instance is dead 10 s after its last one.
    defaults = {"PRESENCE_HEARTBEAT_S": "2", "PRESENCE_DEAD_AFTER_S": "10"}
    doomed, survivor = start_presence(**defaults), start_presence(**defaults)
    only_doomed, on_both, only_survivor = new_user(), new_user(), new_user()
    tabs = [
        await Tab.open(doomed.url(token(only_doomed))),
        await Tab.open(doomed.url(token(on_both))),
        await Tab.open(survivor.url(token(on_both))),
        await Tab.open(survivor.url(token(only_survivor))),
    ]
    for tab in tabs:
        await tab.established()
    everyone = (only_doomed, on_both, only_survivor)
    await eventually(
        lambda: users(survivor, *everyone), lambda s: all(s.values()), what="all online"
    )
    doomed.process.kill()
    killed_at = time.monotonic()

    def converged(seen: dict[str, bool]) -> bool:
        assert seen[on_both], "a user with a socket on the survivor went offline"
        assert seen[only_survivor]
        return not seen[only_doomed]

    await eventually(
        lambda: users(survivor, *everyone),
        converged,
        timeout=DEFAULT_DEAD_AFTER_S + MARGIN_S,
        interval=0.2,
        what="the killed instance's user to go offline",
    )
    assert time.monotonic() - killed_at <= DEFAULT_DEAD_AFTER_S + MARGIN_S
    listing = await ask(survivor, "/api/v1/presence/users")
    assert sorted(listing.json()["user_ids"]) == sorted([on_both, only_survivor])
    for tab in tabs[2:]:
        await tab.close()


async def test_a_restarted_store_does_not_leave_a_live_socket_offline(
    start_presence: StartRealtime, private_redis: PrivateRedis
) -> None:
    realtime = start_presence(REDIS_URL=private_redis.url)
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    await eventually(lambda: users(realtime, user), lambda s: s[user], what="online")

    private_redis.stop()
    down = await ask(realtime, "/api/v1/presence", user_ids=user)
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "presence_unavailable"
    await tab.send({"type": "ping"})
    await tab.wait_for("pong", lambda m: m[-1]["event"] == "pong")  # the socket is unaffected

    private_redis.start()  # same port, empty: everything the store held is gone
    back_at = time.monotonic()
    await eventually(
        lambda: ask(realtime, "/api/v1/presence", user_ids=user),
        lambda r: r.status_code == 200 and r.json()["users"][user],
        timeout=0.5 * 2 + MARGIN_S,  # about one heartbeat (0.5 s here) after the store answers
        interval=0.1,
        what="the live socket's user to be online again",
    )
    assert time.monotonic() - back_at <= 0.5 * 2 + MARGIN_S
    errors = realtime.metrics()["tocsin_realtime_presence_store_errors_total"]
    assert errors >= 1
    await tab.close()
