"""The presence store and an instance's tracker, in this process, against the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis

from contracts.presence import PresenceKeys
from services.realtime.presence.service import Presence
from services.realtime.presence.store import Membership, PresenceStore
from services.realtime.presence.tracker import PresenceTracker
from tests.support.presence import delete_prefix
from tests.support.users import new_user
from tests.support.waiting import eventually

MakeTracker = Callable[..., PresenceTracker]


@pytest.fixture
async def store(redis_client: redis.Redis, presence_keys: PresenceKeys) -> PresenceStore:
    return PresenceStore(redis_client, presence_keys, dead_after_s=1.5)


@pytest.fixture
async def trackers(
    store: PresenceStore,
) -> AsyncIterator[MakeTracker]:
    made: list[PresenceTracker] = []

    def make(instance_id: str, leave_delay_s: float = 0.0) -> PresenceTracker:
        tracker = PresenceTracker(store, instance_id, heartbeat_s=0.3, leave_delay_s=leave_delay_s)
        tracker.start()
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        await tracker.close()


async def online(store: PresenceStore, *users: str) -> dict[str, bool]:
    return (await store.users_online(list(users)))[0]


async def test_a_user_is_online_while_any_instance_holds_a_socket(
    store: PresenceStore, trackers: MakeTracker
) -> None:
    a, b = trackers("a"), trackers("b")
    both, only_a, nobody = new_user(), new_user(), new_user()
    a.user_connected(both)
    b.user_connected(both)
    a.user_connected(only_a)
    await eventually(
        lambda: online(store, both, only_a, nobody),
        lambda seen: seen == {both: True, only_a: True, nobody: False},
        what="both users online",
    )
    a.user_disconnected(both)
    a.user_disconnected(only_a)
    seen = await eventually(
        lambda: online(store, both, only_a),
        lambda seen: not seen[only_a],
        what="only_a offline",
    )
    assert seen[both], "still has a socket on b"
    assert (await store.online_users())[0] == [both]


async def test_a_burst_of_connections_is_written_in_a_few_round_trips(
    redis_client: redis.Redis, presence_keys: PresenceKeys
) -> None:
    # A heartbeat far apart (and a dead-after bound to match): every counted write is the burst's.
    store = PresenceStore(redis_client, presence_keys, dead_after_s=120)
    tracker = PresenceTracker(store, "burst", heartbeat_s=60, leave_delay_s=0)
    tracker.start()
    try:
        await eventually(lambda: tracker.writes, lambda n: n >= 1, what="registration")
        writes_before = tracker.writes
        users = [new_user() for _ in range(500)]
        for user in users:
            tracker.user_connected(user)
        await eventually(
            lambda: online(store, *users[:100]),
            lambda seen: all(seen.values()),
            what="all online",
        )
        assert sorted((await store.online_users())[0]) == sorted(users)
        assert tracker.writes - writes_before <= 2, "500 connections: one or two batches"
    finally:
        await tracker.close()


async def test_an_instance_that_stops_heartbeating_is_swept_by_the_next_reader(
    store: PresenceStore, trackers: MakeTracker
) -> None:
    dying, survivor = trackers("dying"), trackers("survivor")
    lost, kept = new_user(), new_user()
    dying.user_connected(lost)
    dying.user_connected(kept)
    survivor.user_connected(kept)
    dying.channel_joined("incident:1", lost)
    await eventually(lambda: online(store, lost, kept), lambda s: all(s.values()), what="online")
    assert dying._task is not None
    dying._task.cancel()  # the instance freezes: no heartbeat, no goodbye
    left: list[Membership] = []
    survivor.on_change = lambda joined, gone: left.extend(gone)
    reads = Presence(store, survivor)  # as the survivor's REST routes read
    seen = await eventually(
        lambda: reads.users_online([lost, kept]),
        lambda s: not s[lost],
        timeout=1.5 + 2.0,
        what="the frozen instance's user to go offline",
    )
    assert seen[kept]
    assert (await store.channel_members("incident:1"))[0] == []
    await eventually(lambda: left, what="the survivor (reading or writing) to report the leave")
    assert left == [Membership("incident:1", lost)]


async def test_a_reload_within_the_leave_delay_is_not_a_leave(
    store: PresenceStore, trackers: MakeTracker
) -> None:
    tracker = trackers("reload", leave_delay_s=2.0)
    changes: list[tuple[str, Membership]] = []
    tracker.on_change = lambda joined, left: changes.extend(
        [("join", m) for m in joined] + [("leave", m) for m in left]
    )
    user = new_user()
    tracker.channel_joined("incident:7", user)
    await eventually(lambda: list(changes), lambda c: len(c) == 1, what="the join")
    tracker.channel_left("incident:7", user)  # the page reloads...
    await asyncio.sleep(0.05)
    tracker.channel_joined("incident:7", user)  # ...and subscribes again
    await asyncio.sleep(3.0)  # past the leave delay: a leave would have been written by now
    assert changes == [("join", Membership("incident:7", user))]
    assert (await store.channel_members("incident:7"))[0] == [user]
    tracker.channel_left("incident:7", user)
    await eventually(lambda: list(changes), lambda c: len(c) == 2, what="the leave")
    assert changes[1] == ("leave", Membership("incident:7", user))
    assert (await store.channel_members("incident:7"))[0] == []


async def test_join_and_leave_are_reported_once_across_instances(
    store: PresenceStore, trackers: MakeTracker
) -> None:
    a, b = trackers("a"), trackers("b")
    changes: list[tuple[str, Membership]] = []

    def record(joined: list[Membership], left: list[Membership]) -> None:
        changes.extend([("join", m) for m in joined] + [("leave", m) for m in left])

    a.on_change = b.on_change = record
    user = new_user()
    a.channel_joined("incident:9", user)
    await eventually(lambda: list(changes), what="the join")
    b.channel_joined("incident:9", user)  # a second tab elsewhere: already present
    await eventually(
        lambda: store.channel_members("incident:9"), lambda m: m[0] == [user], what="members"
    )
    a.channel_left("incident:9", user)
    b.channel_left("incident:9", user)
    await eventually(lambda: list(changes), lambda c: len(c) == 2, what="the leave")
    assert changes == [
        ("join", Membership("incident:9", user)),
        ("leave", Membership("incident:9", user)),
    ]


async def test_the_tracker_writes_its_whole_state_again_after_the_store_lost_it(
    store: PresenceStore,
    trackers: MakeTracker,
    redis_client: redis.Redis,
    presence_keys: PresenceKeys,
) -> None:
    tracker = trackers("amnesia")
    user = new_user()
    tracker.user_connected(user)
    tracker.channel_joined("incident:3", user)
    await eventually(lambda: online(store, user), lambda s: s[user], what="online")
    await delete_prefix(redis_client, presence_keys.prefix)  # what a restart without data does
    assert not (await online(store, user))[user]
    await eventually(
        lambda: online(store, user),
        lambda s: s[user],
        timeout=0.3 * 2 + 1.0,
        what="the tracker to resend its state within about a heartbeat",
    )
    assert (await store.channel_members("incident:3"))[0] == [user]


async def test_keys_of_instances_that_all_died_expire_by_themselves(
    store: PresenceStore, redis_client: redis.Redis, presence_keys: PresenceKeys
) -> None:
    tracker = PresenceTracker(store, "alone", heartbeat_s=0.3, leave_delay_s=0)
    tracker.start()
    tracker.user_connected(new_user())
    tracker.channel_joined("incident:5", new_user())
    await eventually(lambda: tracker.writes, lambda n: n >= 2, what="written")
    assert tracker._task is not None
    tracker._task.cancel()
    keys = [k async for k in redis_client.scan_iter(match=f"{presence_keys.prefix}:*")]
    assert len(keys) == 5, keys
    ttls = [await redis_client.ttl(k) for k in keys]
    assert all(0 < ttl <= store.key_ttl_s for ttl in ttls), ttls
