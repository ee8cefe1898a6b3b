"""Through the real notification service: REST call → event store → relay → broker → sockets."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from tests.realtime.sockets import Tab
from tests.support.realtime_service import NotificationApi, StartRealtime, token
from tests.support.users import new_user


def _stream(tab: Tab, after: int = 0) -> list[tuple[str, int | None]]:
    return [(m["event"], m.get("seq")) for m in tab.messages[after:] if "seq" in m]


def _new_seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [m["seq"] for m in messages if m["event"] == "notification:new"]


async def test_a_notification_created_over_rest_reaches_both_tabs_and_no_other_user(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    realtime = start_realtime(notification_api.url)
    alice, bob = new_user(), new_user()
    tabs = [await Tab.open(realtime.url(token(alice))) for _ in range(2)]
    bystander = await Tab.open(realtime.url(token(bob)))
    for tab in (*tabs, bystander):
        await tab.established()
    [notification_id] = await notification_api.create([alice], title="Database down")
    for tab in tabs:
        messages = await tab.wait_for("new + stats", lambda m: len(m) == 3)
        assert messages[1]["event"] == "notification:new"
        assert messages[1]["data"]["id"] == notification_id
        assert messages[1]["data"]["title"] == "Database down"
        assert messages[1]["data"]["is_read"] is False
        assert messages[2]["event"] == "stats:updated"
        assert messages[2]["data"]["unread"] == 1
        assert messages[1]["seq"] == messages[2]["seq"] == 1
    await bystander.send({"type": "ping"})
    await bystander.wait_for("pong", lambda m: m[-1]["event"] == "pong")
    assert [m["event"] for m in bystander.messages] == ["connection:established", "pong"]
    for tab in (*tabs, bystander):
        await tab.close()


async def test_read_unread_read_all_and_delete_over_rest_reach_the_tab_with_stats(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    realtime = start_realtime(notification_api.url)
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    [first] = await notification_api.create([user])
    [second] = await notification_api.create([user])
    await tab.wait_for("two created", lambda m: len(m) == 5)
    await notification_api.as_user(user, "POST", f"/notifications/{first}/read")
    await tab.wait_for("read", lambda m: len(m) == 7)
    await notification_api.as_user(user, "POST", f"/notifications/{first}/unread")
    await tab.wait_for("unread", lambda m: len(m) == 9)
    await notification_api.as_user(user, "POST", "/notifications/read-all")
    await tab.wait_for("read_all", lambda m: len(m) == 11)
    await notification_api.as_user(user, "DELETE", f"/notifications/{second}")
    await tab.wait_for("deleted", lambda m: len(m) == 13)
    assert _stream(tab) == [
        ("notification:new", 1),
        ("stats:updated", 1),
        ("notification:new", 2),
        ("stats:updated", 2),
        ("notification:read", 3),
        ("stats:updated", 3),
        ("notification:unread", 4),
        ("stats:updated", 4),
        ("notification:read_all", 5),
        ("stats:updated", 5),
        ("notification:deleted", 6),
        ("stats:updated", 6),
    ]
    data = [m["data"] for m in tab.messages[1:]]
    assert data[4] == {"id": first}
    assert sorted(data[8]["ids"]) == sorted([first, second])
    assert data[10] == {"id": second}
    assert [(d["total"], d["unread"]) for d in data[1::2]] == [
        (1, 1),
        (2, 2),
        (2, 1),
        (2, 2),
        (2, 0),
        (1, 0),
    ]
    await tab.close()


async def test_reconnecting_with_since_replays_missed_events_then_live_ones(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    realtime = start_realtime(notification_api.url)
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    await notification_api.create([user])
    await tab.wait_for("first event", lambda m: len(m) == 3)
    await tab.close()
    for _ in range(3):
        await notification_api.create([user])
    again = await Tab.open(realtime.url(token(user), since=1))
    established = await again.established()
    assert established["recovered"] is True
    assert established["seq"] == 4
    await notification_api.create([user])
    await again.wait_for("3 missed + 1 live", lambda m: len(m) == 9)
    assert _stream(again) == [
        (event, seq) for seq in (2, 3, 4, 5) for event in ("notification:new", "stats:updated")
    ]
    await again.close()


async def test_without_since_a_fresh_instance_reports_the_users_latest_seq_from_the_store(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    user = new_user()
    for _ in range(3):
        await notification_api.create([user])
    realtime = start_realtime(notification_api.url)  # has never seen this user
    tab = await Tab.open(realtime.url(token(user)))
    established = await tab.established()
    assert established["recovered"] is True
    assert established["seq"] == 3
    await tab.close()  # drops before any live event
    again = await Tab.open(realtime.url(token(user), since=established["seq"]))
    resumed = await again.established()
    assert resumed["recovered"] is True
    assert resumed["seq"] == 3
    await notification_api.create([user])
    await again.wait_for("the live event", lambda m: len(m) == 3)
    assert _stream(again) == [("notification:new", 4), ("stats:updated", 4)]
    await again.close()


async def test_a_gap_larger_than_the_catch_up_limit_is_reported_not_recovered(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    realtime = start_realtime(notification_api.url, CATCHUP_LIMIT="3")
    user = new_user()
    for _ in range(5):
        await notification_api.create([user])
    tab = await Tab.open(realtime.url(token(user), since=1))
    established = await tab.established()
    assert established["recovered"] is False
    assert established["seq"] == 5
    await notification_api.create([user])
    await tab.wait_for("the live event", lambda m: len(m) == 3)
    assert _stream(tab) == [("notification:new", 6), ("stats:updated", 6)]
    await tab.close()


async def test_killing_an_instance_mid_stream_loses_and_repeats_nothing_after_reconnect(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    doomed, survivor = start_realtime(notification_api.url), start_realtime(notification_api.url)
    user = new_user()
    total = 40
    tab = await Tab.open(doomed.url(token(user)))
    await tab.established()

    async def produce() -> None:
        for i in range(total):
            await notification_api.create([user], title=f"n{i}")
            await asyncio.sleep(0.02)

    producer = asyncio.create_task(produce())
    await tab.wait_for("some events", lambda m: len(_new_seqs(m)) >= 5, timeout=30)
    doomed.process.kill()
    assert await tab.closed() == 1006
    seen = [m for m in tab.messages if "seq" in m]
    last_seen = max(m["seq"] for m in seen)
    again = await Tab.open(survivor.url(token(user), since=last_seen))
    assert (await again.established())["recovered"] is True
    await producer
    await again.wait_for(
        "every event up to the last", lambda m: len(_new_seqs(m)) == total - last_seen, timeout=30
    )
    everything = seen + [m for m in again.messages if "seq" in m]
    assert _new_seqs(everything) == list(range(1, total + 1))
    stats_seqs = [m["seq"] for m in everything if m["event"] == "stats:updated"]
    assert stats_seqs == sorted(set(stats_seqs))
    # The kill may fall between an event's two frames; the next stats event supersedes it.
    assert set(range(1, total + 1)) - set(stats_seqs) <= {last_seen}
    await again.close()


async def test_a_second_tab_and_a_quick_reconnect_get_the_exact_seq_without_asking_again(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    user = new_user()
    for _ in range(2):
        await notification_api.create([user])
    realtime = start_realtime(notification_api.url, UNBIND_GRACE_S="30")
    first = await Tab.open(realtime.url(token(user)))
    assert (await first.established())["seq"] == 2
    await notification_api.create([user])
    await first.wait_for("the live event", lambda m: len(m) == 3)
    second = await Tab.open(realtime.url(token(user)))
    assert (await second.established())["seq"] == 3
    await first.close()
    await second.close()
    again = await Tab.open(realtime.url(token(user)))  # within the grace: binding still held
    assert (await again.established())["seq"] == 3
    await again.close()
    assert realtime.metrics()["tocsin_realtime_latest_seq_lookups_total"] == 1


async def test_many_users_connecting_at_once_without_since_each_get_their_own_latest_seq(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    users = [new_user() for _ in range(30)]
    for count in range(1, 4):
        await notification_api.create([u for i, u in enumerate(users) if i % 3 >= count - 1])
    realtime = start_realtime(notification_api.url)
    tabs = await asyncio.gather(*(Tab.open(realtime.url(token(u))) for u in users))
    established = await asyncio.gather(*(tab.established() for tab in tabs))
    assert [e["seq"] for e in established] == [i % 3 + 1 for i in range(len(users))]
    for tab in tabs:
        await tab.close()


async def test_a_since_ahead_of_the_store_is_not_recovered_and_live_events_still_arrive(
    notification_api: NotificationApi, start_realtime: StartRealtime
) -> None:
    """A seq from another database, or made up, must not silence the socket: the handshake
    says `recovered: false` with the store's true seq, and the next event is delivered. A
    `since` that is not ASCII digits counts as absent."""
    realtime = start_realtime(notification_api.url)
    user = new_user()
    await notification_api.create([user])
    latest = 1
    for since, recovered in (("7", False), ("1" + "0" * 40, False), ("\u0661\u0662", True)):
        tab = await Tab.open(realtime.url(token(user)) + "&since=" + quote(since))
        established = await tab.established()
        assert (established["recovered"], established["seq"]) == (recovered, latest), since
        tab.messages.clear()
        await notification_api.create([user])
        latest += 1
        await tab.wait_for(f"the live event after since={since!r}", lambda m: len(m) >= 2)
        assert _stream(tab) == [("notification:new", latest), ("stats:updated", latest)], since
        await tab.close()
