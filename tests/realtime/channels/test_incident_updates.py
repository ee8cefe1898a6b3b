"""Live incident updates on `incident:<id>` channels: fan-out, catch-up with `since`, failover,
and the page's first load over REST."""

from __future__ import annotations

import asyncio

import httpx

from identity.tokens import ADMIN_SCOPE
from messaging.incidents import IncidentPublisher
from tests.realtime.channels.helpers import (
    incident_seq,
    subscribe,
    update_seqs,
    updates,
    wait_for_seqs,
)
from tests.realtime.sockets import Tab
from tests.support.incident_story import IncidentStory
from tests.support.realtime_service import NotificationApi, StartRealtime, token
from tests.support.users import new_user


async def test_an_incident_change_reaches_two_tabs_of_each_of_two_participants(
    start_realtime: StartRealtime,
    incident_api: NotificationApi,
    incidents: IncidentPublisher,
) -> None:
    realtime = start_realtime(incident_api.url)
    watcher, member, actor = new_user(), new_user(), new_user()
    story = IncidentStory(watchers=[watcher], team=[member], actor=actor)
    await incidents.publish(story.created())
    await incident_seq(incident_api, story.id, watcher, 1)
    tabs = [await Tab.open(realtime.url(token(u))) for u in (watcher, watcher, member, member)]
    for tab in tabs:
        await tab.established()
        assert (await subscribe(tab, story.channel))["data"]["seq"] == 1

    await incidents.publish(story.status_changed("investigating"))
    await incidents.publish(story.comment("rolled back the deploy"))
    for tab in tabs:
        assert await wait_for_seqs(tab, story.channel, 2) == [2, 3]
        first, second = updates(tab, story.channel)
        assert first["change"]["type"] == "incident.status_changed"
        assert first["change"]["new_status"] == "investigating"
        assert first["incident"]["status"] == "investigating"
        assert first["actor"]["id"] == actor
        assert second["change"]["comment"]["excerpt"] == "rolled back the deploy"
    for tab in tabs:
        await tab.close()


async def test_resubscribing_with_since_mid_stream_gives_every_change_once_in_order(
    start_realtime: StartRealtime,
    incident_api: NotificationApi,
    incidents: IncidentPublisher,
) -> None:
    realtime = start_realtime(incident_api.url)
    watcher = new_user()
    story = IncidentStory(watchers=[watcher], team=[], actor=new_user())
    await incidents.publish(story.created())
    await incident_seq(incident_api, story.id, watcher, 1)
    first = await Tab.open(realtime.url(token(watcher)))
    await first.established()
    await subscribe(first, story.channel)
    for n in range(2):
        await incidents.publish(story.comment(f"before the drop {n}"))
    assert await wait_for_seqs(first, story.channel, 2) == [2, 3]
    await first.close()

    for n in range(3):  # missed while away
        await incidents.publish(story.comment(f"while away {n}"))
    await incident_seq(incident_api, story.id, watcher, 6)
    second = await Tab.open(realtime.url(token(watcher)))
    await second.established()
    publishing = asyncio.create_task(_comments(incidents, story, 3))  # racing the catch-up
    answer = await subscribe(second, story.channel, since=3)
    await publishing
    assert answer["data"]["recovered"] is True
    assert await wait_for_seqs(second, story.channel, 6) == [4, 5, 6, 7, 8, 9]
    await incident_seq(incident_api, story.id, watcher, 9)
    await second.close()


async def _comments(incidents: IncidentPublisher, story: IncidentStory, count: int) -> None:
    for n in range(count):
        await incidents.publish(story.comment(f"during the catch-up {n}"))


async def test_a_gap_past_the_catch_up_limit_is_not_recovered(
    start_realtime: StartRealtime,
    incident_api: NotificationApi,
    incidents: IncidentPublisher,
) -> None:
    realtime = start_realtime(incident_api.url, CATCHUP_LIMIT="2")
    watcher = new_user()
    story = IncidentStory(watchers=[watcher], team=[], actor=new_user())
    await incidents.publish(story.created())
    for n in range(3):
        await incidents.publish(story.comment(f"comment {n}"))
    await incident_seq(incident_api, story.id, watcher, 4)
    tab = await Tab.open(realtime.url(token(watcher)))
    await tab.established()
    answer = await subscribe(tab, story.channel, since=1)
    assert answer["data"] == {"channel": story.channel, "seq": 4, "recovered": False}
    again = await subscribe(tab, story.channel, since=99)  # already in: nothing changes
    assert again["data"] == {"channel": story.channel, "seq": 4, "recovered": True}
    await incidents.publish(story.comment("after the reload"))
    assert await wait_for_seqs(tab, story.channel, 1) == [5]
    await tab.close()


async def test_subscribers_reconnecting_to_the_survivor_after_kill_9_catch_up_without_a_gap(
    start_realtime: StartRealtime,
    incident_api: NotificationApi,
    incidents: IncidentPublisher,
) -> None:
    doomed = start_realtime(incident_api.url)
    survivor = start_realtime(incident_api.url)
    watcher, member = new_user(), new_user()
    story = IncidentStory(watchers=[watcher], team=[member], actor=new_user())
    await incidents.publish(story.created())
    await incident_seq(incident_api, story.id, watcher, 1)
    on_doomed = await Tab.open(doomed.url(token(watcher)))
    on_survivor = await Tab.open(survivor.url(token(member)))
    for tab in (on_doomed, on_survivor):
        await tab.established()
        await subscribe(tab, story.channel)
    await incidents.publish(story.comment("one"))
    assert await wait_for_seqs(on_doomed, story.channel, 1) == [2]

    doomed.process.kill()
    await on_doomed.closed()
    for n in range(3):
        await incidents.publish(story.comment(f"while the instance is dead {n}"))
    moved = await Tab.open(survivor.url(token(watcher)))
    await moved.established()
    last = update_seqs(on_doomed, story.channel)[-1]
    answer = await subscribe(moved, story.channel, since=last)
    assert answer["data"]["recovered"] is True
    await incidents.publish(story.comment("after the move"))
    assert await wait_for_seqs(moved, story.channel, 4) == [3, 4, 5, 6]
    assert await wait_for_seqs(on_survivor, story.channel, 5) == [2, 3, 4, 5, 6]
    await moved.close()
    await on_survivor.close()


async def test_get_incident_gives_state_and_timeline_to_participants_and_admins_only(
    incident_api: NotificationApi, incidents: IncidentPublisher
) -> None:
    watcher, stranger = new_user(), new_user()
    story = IncidentStory(watchers=[watcher], team=[], actor=new_user())
    await incidents.publish(story.created())
    await incidents.publish(story.status_changed("mitigated"))
    await incident_seq(incident_api, story.id, watcher, 2)
    async with httpx.AsyncClient(base_url=incident_api.url, timeout=10) as client:

        async def get(incident_id: str, tok: str | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tok}"} if tok else {}
            return await client.get(f"/api/v1/incidents/{incident_id}", headers=headers)

        mine = await get(story.id, token(watcher))
        assert mine.status_code == 200
        body = mine.json()
        assert body["seq"] == 2
        assert body["incident"]["status"] == "mitigated"
        assert [u["seq"] for u in body["timeline"]] == [1, 2]
        assert [u["change"]["type"] for u in body["timeline"]] == [
            "incident.created",
            "incident.status_changed",
        ]
        admin = await get(story.id, token(new_user(), scopes=[ADMIN_SCOPE]))
        assert admin.status_code == 200 and admin.json() == body
        for incident_id, tok in ((story.id, token(stranger)), ("nope", token(watcher))):
            refused = await get(incident_id, tok)
            assert refused.status_code == 404
            assert refused.json()["error"]["code"] == "incident_not_found"
        assert (await get(story.id, None)).status_code == 401
        assert (await get("x" * 201, token(watcher))).status_code == 422
        internal = await client.get(
            f"/api/v1/internal/incidents/{story.id}/updates",
            headers={"Authorization": f"Bearer {token(watcher)}"},
        )
        assert internal.status_code == 403  # a user token is not the realtime service
