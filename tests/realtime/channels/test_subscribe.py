"""Who may subscribe to a channel, and what a socket gets for every kind of bad request."""

from __future__ import annotations

from identity.channel_tokens import mint_channel_token
from identity.tokens import ADMIN_SCOPE
from messaging.incidents import IncidentPublisher
from tests.realtime.channels.helpers import (
    incident_seq,
    round_trip,
    subscribe,
    updates,
    wait_for_seqs,
)
from tests.realtime.sockets import Tab
from tests.support.incident_story import IncidentStory
from tests.support.realtime_service import JWT, NotificationApi, StartRealtime, token
from tests.support.users import new_user


async def test_a_channel_token_for_this_user_and_channel_lets_the_socket_in(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime()
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    channel = "board:standup-7"
    answer = await subscribe(tab, channel, token=mint_channel_token(JWT, user, channel))
    assert answer["event"] == "subscribed"
    assert answer["data"] == {"channel": channel, "seq": 0, "recovered": True}
    await tab.send({"type": "unsubscribe", "channel": channel})
    await tab.wait_for("unsubscribed", lambda _: bool(tab.events("unsubscribed")))
    assert tab.events("unsubscribed")[0]["data"] == {"channel": channel}
    await tab.close()


async def test_channel_tokens_for_another_channel_or_user_or_expired_are_refused(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime()
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    channel = "board:standup-7"
    refused = {
        "no token": None,
        "another channel": mint_channel_token(JWT, user, "board:other"),
        "another user": mint_channel_token(JWT, new_user(), channel),
        "expired": mint_channel_token(JWT, user, channel, ttl_s=-10),
        "not a JWT": "garbage",
        "plain user token": token(user),
    }
    for why, channel_token in refused.items():
        fields = {} if channel_token is None else {"token": channel_token}
        answer = await subscribe(tab, channel, **fields)
        assert answer["event"] == "error", why
        assert answer["data"]["code"] == "forbidden_channel", why
    await round_trip(tab)  # the socket stays open
    assert not tab.events("subscribed")
    await tab.close()


async def test_incident_participants_and_admins_may_subscribe_strangers_may_not(
    start_realtime: StartRealtime,
    incident_api: NotificationApi,
    incidents: IncidentPublisher,
) -> None:
    realtime = start_realtime(incident_api.url)
    watcher, member, actor, stranger = new_user(), new_user(), new_user(), new_user()
    story = IncidentStory(watchers=[watcher], team=[member], actor=actor)
    await incidents.publish(story.created())
    await incident_seq(incident_api, story.id, watcher, 1)

    for user, scopes in ((watcher, []), (member, []), (actor, []), (new_user(), [ADMIN_SCOPE])):
        tab = await Tab.open(realtime.url(token(user, scopes=scopes)))
        await tab.established()
        answer = await subscribe(tab, story.channel)
        assert answer["event"] == "subscribed", (user, answer)
        assert answer["data"] == {"channel": story.channel, "seq": 1, "recovered": True}
        await tab.close()

    tab = await Tab.open(realtime.url(token(stranger)))
    await tab.established()
    answer = await subscribe(tab, story.channel)
    assert answer["event"] == "error"
    assert answer["data"]["code"] == "forbidden_channel"
    unknown = await subscribe(tab, "incident:does-not-exist")
    assert unknown["data"]["code"] == "forbidden_channel"  # no existence oracle
    # Not even a channel token gets a stranger into an incident: Tocsin judges those itself.
    forged = await subscribe(
        tab, story.channel, token=mint_channel_token(JWT, stranger, story.channel)
    )
    assert forged["data"]["code"] == "forbidden_channel"
    await round_trip(tab)
    await tab.close()


async def test_a_stranger_never_receives_a_channel_event(
    start_realtime: StartRealtime,
    incident_api: NotificationApi,
    incidents: IncidentPublisher,
) -> None:
    realtime = start_realtime(incident_api.url)
    watcher, stranger = new_user(), new_user()
    story = IncidentStory(watchers=[watcher], team=[], actor=new_user())
    await incidents.publish(story.created())
    await incident_seq(incident_api, story.id, watcher, 1)
    insider = await Tab.open(realtime.url(token(watcher)))
    outsider = await Tab.open(realtime.url(token(stranger)))
    await insider.established()
    await outsider.established()
    assert (await subscribe(insider, story.channel))["event"] == "subscribed"
    assert (await subscribe(outsider, story.channel))["event"] == "error"
    await outsider.send({"type": "typing", "channel": story.channel})

    await incidents.publish(story.status_changed("investigating"))
    await wait_for_seqs(insider, story.channel, 1)
    await round_trip(outsider)
    assert [m["event"] for m in outsider.messages if m["event"] == "incident:updated"] == []
    assert outsider.events("error")[-1]["data"]["code"] == "not_subscribed"
    assert updates(insider, story.channel)[0]["incident"]["status"] == "investigating"
    await insider.close()
    await outsider.close()


async def test_bad_channel_requests_get_stable_codes_and_the_socket_stays_open(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime(MAX_CHANNELS_PER_SOCKET="2")
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    bad = [
        ({"type": "subscribe"}, "bad_channel_request"),
        ({"type": "subscribe", "channel": 42}, "bad_channel_request"),
        ({"type": "subscribe", "channel": "board:x", "since": "3"}, "bad_channel_request"),
        ({"type": "subscribe", "channel": "board:x", "since": -1}, "bad_channel_request"),
        ({"type": "subscribe", "channel": "board:x", "token": 7}, "bad_channel_request"),
        ({"type": "subscribe", "channel": "no-namespace"}, "unknown_channel"),
        ({"type": "subscribe", "channel": "Board:x"}, "unknown_channel"),
        ({"type": "subscribe", "channel": "board:\u0000"}, "unknown_channel"),
        ({"type": "subscribe", "channel": "board:" + "x" * 300}, "bad_channel_request"),
        ({"type": "unsubscribe"}, "bad_channel_request"),
        ({"type": "typing", "channel": "board:x", "state": "dancing"}, "bad_channel_request"),
        ({"type": "typing", "channel": "board:x"}, "not_subscribed"),
    ]
    for payload, code in bad:
        errors = len(tab.events("error"))
        await tab.send(payload)
        await tab.wait_for(
            f"error for {payload}", lambda _, before=errors: len(tab.events("error")) > before
        )
        assert tab.events("error")[-1]["data"]["code"] == code, payload
    for name in ("board:a", "board:b"):
        answer = await subscribe(tab, name, token=mint_channel_token(JWT, user, name))
        assert answer["event"] == "subscribed"
    third = await subscribe(tab, "board:c", token=mint_channel_token(JWT, user, "board:c"))
    assert third["data"]["code"] == "too_many_channels"
    await round_trip(tab)
    await tab.close()
