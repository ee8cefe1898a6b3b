"""Channel presence end to end: members, join/leave events across instances, the leave delay,
an instance killed, and who may read a channel's presence over REST."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from identity.channel_tokens import mint_channel_token
from identity.tokens import ADMIN_SCOPE, PRESENCE_READ_SCOPE
from messaging.incidents import IncidentPublisher
from tests.realtime.channels.helpers import incident_seq, round_trip, subscribe
from tests.realtime.sockets import Tab
from tests.support.incident_story import IncidentStory
from tests.support.realtime_service import JWT, NotificationApi, Realtime, StartRealtime, token
from tests.support.users import new_user
from tests.support.waiting import eventually

pytestmark = pytest.mark.usefixtures("redis_client")

CHANNEL = "board:standup-7"


async def member(realtime: Realtime, user: str, channel: str = CHANNEL, **fields: Any) -> Tab:
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    answer = await subscribe(tab, channel, token=mint_channel_token(JWT, user, channel), **fields)
    assert answer["event"] == "subscribed", answer
    return tab


def changes(tab: Tab) -> list[tuple[str, str]]:
    return [
        (m["event"], m["data"]["user_id"])
        for m in tab.messages
        if m["event"] in ("presence:join", "presence:leave")
    ]


async def members_over_rest(realtime: Realtime, channel: str = CHANNEL) -> list[str]:
    headers = {"Authorization": f"Bearer {token('svc', scopes=[PRESENCE_READ_SCOPE])}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{realtime.port}") as client:
        response = await client.get(f"/api/v1/channels/{channel}/presence", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["channel"] == channel
    users: list[str] = response.json()["user_ids"]
    return users


async def test_subscribers_see_who_joins_and_leaves_on_any_instance(
    start_presence: StartRealtime,
) -> None:
    a, b = start_presence(), start_presence()
    alice, bob, carol = new_user(), new_user(), new_user()
    watching = await member(a, alice, presence=True)
    first = await watching.wait_for(
        "presence:members", lambda _: bool(watching.events("presence:members"))
    )
    assert watching.events("presence:members")[0]["data"]["channel"] == CHANNEL
    del first
    quiet = await member(a, carol)  # subscribed without "presence": no presence events
    await eventually(lambda: members_over_rest(b), lambda m: m == sorted([alice, carol]))
    joiner = await member(b, bob, presence=True)
    await watching.wait_for("bob's join", lambda _: ("presence:join", bob) in changes(watching))
    members = await joiner.wait_for(
        "presence:members", lambda _: bool(joiner.events("presence:members"))
    )
    del members
    snapshot = joiner.events("presence:members")[0]["data"]["user_ids"]
    assert {alice, carol} <= set(snapshot)
    assert sorted(await members_over_rest(a)) == sorted([alice, bob, carol])

    await joiner.send({"type": "unsubscribe", "channel": CHANNEL})
    await watching.wait_for("bob's leave", lambda _: ("presence:leave", bob) in changes(watching))
    assert changes(watching).count(("presence:join", bob)) == 1
    assert sorted(await members_over_rest(b)) == sorted([alice, carol])
    await round_trip(quiet)
    assert not changes(quiet) and not quiet.events("presence:members")
    for tab in (watching, quiet, joiner):
        await tab.close()


async def test_resubscribing_within_the_leave_delay_is_not_a_leave(
    start_presence: StartRealtime,
) -> None:
    realtime = start_presence(PRESENCE_LEAVE_DELAY_S="3")
    alice, bob = new_user(), new_user()
    watching = await member(realtime, alice, presence=True)
    reloading = await member(realtime, bob)
    await watching.wait_for("bob's join", lambda _: ("presence:join", bob) in changes(watching))
    await reloading.close()  # a page reload: the socket goes...
    again = await member(realtime, bob)  # ...and the new page subscribes again
    await asyncio.sleep(4.0)  # past the leave delay: a leave would have been sent by now
    await round_trip(watching)
    assert changes(watching) == [("presence:join", alice), ("presence:join", bob)] or changes(
        watching
    ) == [("presence:join", bob)]
    assert bob in await members_over_rest(realtime)
    await again.close()
    await watching.wait_for("bob's leave", lambda _: ("presence:leave", bob) in changes(watching))
    await watching.close()


async def test_a_killed_instances_members_leave_the_channel_within_the_bound(
    start_presence: StartRealtime,
) -> None:
    doomed, survivor = start_presence(), start_presence()  # dead after 3 s (tests' setting)
    alice, bob, both = new_user(), new_user(), new_user()
    watching = await member(survivor, alice, presence=True)
    await member(doomed, bob)
    await member(doomed, both)
    also = await member(survivor, both)
    await eventually(lambda: members_over_rest(survivor), lambda m: m == sorted([alice, bob, both]))
    doomed.process.kill()
    await watching.wait_for(
        "bob's leave after the kill",
        lambda _: ("presence:leave", bob) in changes(watching),
        timeout=3 + 5,
    )
    assert ("presence:leave", both) not in changes(watching)
    assert sorted(await members_over_rest(survivor)) == sorted([alice, both])
    for tab in (watching, also):
        await tab.close()


async def test_who_may_read_a_channels_presence(start_presence: StartRealtime) -> None:
    realtime = start_presence()
    alice, mallory = new_user(), new_user()
    tab = await member(realtime, alice)
    base = f"http://127.0.0.1:{realtime.port}"
    path = f"/api/v1/channels/{CHANNEL}/presence"

    async def read(headers: dict[str, str], target: str = path) -> httpx.Response:
        async with httpx.AsyncClient(base_url=base) as client:
            return await client.get(target, headers=headers, timeout=5)

    def bearer(tok: str, channel_token: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {tok}"}
        if channel_token is not None:
            headers["X-Channel-Token"] = channel_token
        return headers

    refused = {
        "no token": ({}, 401, "missing_token"),
        "user without channel token": (bearer(token(mallory)), 404, "channel_not_found"),
        "channel token of another user": (
            bearer(token(mallory), mint_channel_token(JWT, alice, CHANNEL)),
            404,
            "channel_not_found",
        ),
        "channel token of another channel": (
            bearer(token(mallory), mint_channel_token(JWT, mallory, "board:other")),
            404,
            "channel_not_found",
        ),
        "a scope that is not presence:read": (
            bearer(token("svc", scopes=["notifications:write"])),
            404,
            "channel_not_found",
        ),
    }
    for why, (headers, status, code) in refused.items():
        response = await read(headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), why
        assert alice not in response.text, why
    allowed = await eventually(
        lambda: read(bearer(token(mallory), mint_channel_token(JWT, mallory, CHANNEL))),
        lambda r: r.status_code == 200 and r.json()["user_ids"] == [alice],
        what="a member's view of the channel",
    )
    assert allowed.json() == {"channel": CHANNEL, "user_ids": [alice]}
    assert await members_over_rest(realtime) == [alice]
    bad = await read(
        bearer(token("svc", scopes=[PRESENCE_READ_SCOPE])), "/api/v1/channels/NoColon/presence"
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "unknown_channel")
    await tab.close()


async def test_an_incidents_presence_is_for_its_people_and_admins(
    start_presence: StartRealtime,
    incident_api: NotificationApi,
    incidents: IncidentPublisher,
) -> None:
    realtime = start_presence(incident_api.url)
    watcher, stranger = new_user(), new_user()
    story = IncidentStory(watchers=[watcher], team=[], actor=new_user())
    await incidents.publish(story.created())
    await incident_seq(incident_api, story.id, watcher, 1)
    tab = await Tab.open(realtime.url(token(watcher)))
    await tab.established()
    assert (await subscribe(tab, story.channel, presence=True))["event"] == "subscribed"
    await tab.wait_for("presence:members", lambda _: bool(tab.events("presence:members")))

    async def read(
        user_token: str, channel: str = story.channel, channel_token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {user_token}"}
        if channel_token is not None:
            headers["X-Channel-Token"] = channel_token
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{realtime.port}") as client:
            return await client.get(
                f"/api/v1/channels/{channel}/presence", headers=headers, timeout=10
            )

    seen = await eventually(
        lambda: read(token(watcher)),
        lambda r: r.status_code == 200 and r.json()["user_ids"] == [watcher],
        what="the watcher seeing itself in the incident",
    )
    assert seen.json() == {"channel": story.channel, "user_ids": [watcher]}
    admin = await read(token(new_user(), scopes=[ADMIN_SCOPE]))
    assert (admin.status_code, admin.json()["user_ids"]) == (200, [watcher])
    for refused in (
        await read(token(stranger)),
        await read(token(watcher), "incident:does-not-exist"),
        # Not even a channel token: Tocsin judges incidents itself.
        await read(token(stranger), channel_token=mint_channel_token(JWT, stranger, story.channel)),
    ):
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "channel_not_found"
        assert watcher not in refused.text
    await tab.close()
