"""Events from the broker reach every socket of their user, on any instance, and no one else."""

from __future__ import annotations

import uuid

import aio_pika

from contracts.events import EventType
from contracts.realtime import REALTIME_PUSH, RealtimePush
from contracts.topology import Topology, routing_key
from tests.realtime.sockets import Tab
from tests.support.realtime_service import (
    Publish,
    StartRealtime,
    created,
    envelope,
    notification,
    token,
)
from tests.support.users import new_user
from tests.support.waiting import eventually


def _events(tab: Tab) -> list[tuple[str, int | None]]:
    return [(m["event"], m.get("seq")) for m in tab.messages[1:]]


async def test_an_event_reaches_every_tab_of_its_user_and_nothing_reaches_another_user(
    start_realtime: StartRealtime, publish: Publish
) -> None:
    realtime = start_realtime()
    alice, bob = new_user(), new_user()
    tabs = [await Tab.open(realtime.url(token(alice))) for _ in range(2)]
    bystander = await Tab.open(realtime.url(token(bob)))
    for tab in (*tabs, bystander):
        await tab.established()

    event = created(alice, seq=1)
    await publish(event)

    for tab in tabs:
        messages = await tab.wait_for("new + stats", lambda m: len(m) == 3)
        new, stats = messages[1], messages[2]
        assert new["event"] == "notification:new"
        assert new["seq"] == 1
        assert new["data"]["id"] == event.data["notification"]["id"]
        assert new["data"]["title"] == "event 1"
        assert set(new["data"]) >= {"id", "type", "priority", "title", "message", "is_read"}
        assert stats == {**stats, "event": "stats:updated", "seq": 1}
        assert stats["data"]["unread"] == 1
    await bystander.send({"type": "ping"})
    await bystander.wait_for("pong", lambda m: m[-1]["event"] == "pong")
    assert [m["event"] for m in bystander.messages] == ["connection:established", "pong"]
    for tab in (*tabs, bystander):
        await tab.close()


async def test_read_unread_read_all_and_delete_each_come_with_stats_and_seq(
    start_realtime: StartRealtime, publish: Publish
) -> None:
    realtime = start_realtime()
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await publish(created(user, 1, first))
    await publish(created(user, 2, second))
    await publish(envelope(EventType.NOTIFICATION_READ, user, 3, {"id": first}, unread=1, total=2))
    await publish(envelope(EventType.NOTIFICATION_UNREAD, user, 4, {"id": first}, 2, 2))
    both = {"ids": [first, second]}
    await publish(envelope(EventType.NOTIFICATION_READ_ALL, user, 5, both, 0, 2))
    await publish(envelope(EventType.NOTIFICATION_DELETED, user, 6, {"id": second}, 0, 1))
    await tab.wait_for("12 messages", lambda m: len(m) == 13)
    assert _events(tab) == [
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
    assert data[8] == {"ids": [first, second]}
    assert data[10] == {"id": second}
    assert [d["unread"] for d in data[1::2]] == [1, 2, 1, 2, 0, 0]
    await tab.close()


async def test_a_republished_event_is_not_shown_twice(
    start_realtime: StartRealtime, publish: Publish
) -> None:
    realtime = start_realtime()
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    event = created(user, 1)
    await publish(event)
    await publish(event)
    await publish(created(user, 2))
    await tab.wait_for("two events", lambda m: len(m) == 5)
    assert _events(tab) == [
        ("notification:new", 1),
        ("stats:updated", 1),
        ("notification:new", 2),
        ("stats:updated", 2),
    ]
    await tab.close()


async def test_tabs_on_two_instances_both_get_every_event_in_order(
    start_realtime: StartRealtime, publish: Publish
) -> None:
    first, second = start_realtime(), start_realtime()
    user, other = new_user(), new_user()
    tab_a = await Tab.open(first.url(token(user)))
    tab_b = await Tab.open(second.url(token(user)))
    other_tab = await Tab.open(second.url(token(other)))
    for tab in (tab_a, tab_b, other_tab):
        await tab.established()
    for seq in range(1, 21):
        await publish(created(user, seq))
    await publish(created(other, 1))
    expected = [(e, seq) for seq in range(1, 21) for e in ("notification:new", "stats:updated")]
    for tab in (tab_a, tab_b):
        await tab.wait_for("20 events", lambda m: len(m) == 41)
        assert _events(tab) == expected
    await other_tab.wait_for("its one event", lambda m: len(m) == 3)
    assert _events(other_tab) == [("notification:new", 1), ("stats:updated", 1)]
    # The first instance only ever received this user's events, not the other user's.
    assert first.metrics()["tocsin_realtime_events_consumed_total"] == 20
    for tab in (tab_a, tab_b, other_tab):
        await tab.close()


async def test_broadcast_reaches_every_connected_socket_without_seq(
    start_realtime: StartRealtime, publish: Publish
) -> None:
    first, second = start_realtime(), start_realtime()
    tabs = [await Tab.open(rt.url(token(new_user()))) for rt in (first, second, second)]
    for tab in tabs:
        await tab.established()
    announcement = notification(title="Maintenance at 22:00")
    await publish(
        envelope(EventType.NOTIFICATION_BROADCAST, "*", None, {"notification": announcement})
    )
    for tab in tabs:
        messages = await tab.wait_for("the announcement", lambda m: len(m) == 2)
        assert messages[1]["event"] == "notification:new"
        assert messages[1]["data"]["title"] == "Maintenance at 22:00"
        assert "seq" not in messages[1]
        await tab.close()


async def test_other_services_reach_a_user_through_the_broker_with_realtime_push(
    start_realtime: StartRealtime,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    topology: Topology,
    broker_cleanup: list[str],
) -> None:
    first, second = start_realtime(), start_realtime()
    user, other = new_user(), new_user()
    tabs = [await Tab.open(first.url(token(user))), await Tab.open(second.url(token(user)))]
    other_tab = await Tab.open(first.url(token(other)))
    for tab in (*tabs, other_tab):
        await tab.established()
    channel = await amqp_connection.channel()
    exchange = await channel.get_exchange(topology.events_exchange)
    for target in (user, "*"):
        push = RealtimePush(user_id=target, event="stats:updated", data={"total": 3, "unread": 2})
        await exchange.publish(
            aio_pika.Message(push.model_dump_json().encode(), content_type="application/json"),
            routing_key=routing_key(REALTIME_PUSH, target),
        )
    for tab in tabs:
        await tab.wait_for("user push and push to all", lambda m: len(m) == 3)
        assert [m["data"] for m in tab.messages[1:]] == [{"total": 3, "unread": 2}] * 2
    await other_tab.wait_for("push to all", lambda m: len(m) == 2)
    await other_tab.send({"type": "ping"})
    await other_tab.wait_for("pong", lambda m: m[-1]["event"] == "pong")
    assert len(other_tab.messages) == 3
    await channel.close()
    for tab in (*tabs, other_tab):
        await tab.close()


async def test_a_users_binding_is_removed_after_their_last_socket_closes(
    start_realtime: StartRealtime, publish: Publish
) -> None:
    realtime = start_realtime(UNBIND_GRACE_S="0.2")
    user = new_user()
    tab = await Tab.open(realtime.url(token(user)))
    await tab.established()
    assert realtime.metrics()["tocsin_realtime_bound_users"] == 1
    await tab.close()
    await eventually(
        lambda: realtime.metrics()["tocsin_realtime_bound_users"],
        lambda n: n == 0,
        what="the binding to go",
    )
    watcher_user = new_user()
    watcher = await Tab.open(realtime.url(token(watcher_user)))
    await watcher.established()
    await publish(created(user, 1))
    await publish(created(watcher_user, 1))  # same queue, so it arrives after the first
    await watcher.wait_for("the watcher's event", lambda m: len(m) == 3)
    assert realtime.metrics()["tocsin_realtime_events_consumed_total"] == 1
    await watcher.close()
