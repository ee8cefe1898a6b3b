"""The self-check finds a user whose events stopped arriving, binds it again and tells its
sockets to catch up; while events flow normally it finds nothing."""

from __future__ import annotations

import asyncio
import uuid

from contracts.topology import Topology, binding_for_user
from tests.realtime.sockets import Tab
from tests.support.realtime_service import StartNotificationApi, StartRealtime, token
from tests.support.system import PrivateRabbitMq
from tests.support.users import new_user
from tests.support.waiting import eventually


def new_seqs(tab: Tab) -> list[int]:
    return [int(m["seq"]) for m in tab.events("notification:new")]


async def test_a_binding_lost_behind_the_instance_is_found_repaired_and_events_flow_again(
    private_rabbitmq: PrivateRabbitMq,
    start_notification_api: StartNotificationApi,
    start_realtime: StartRealtime,
    topology: Topology,
) -> None:
    api = start_notification_api(private_rabbitmq.url)
    instance = f"selfcheck-{uuid.uuid4().hex[:6]}"
    realtime = start_realtime(
        api.url, AMQP_URL=private_rabbitmq.url, INSTANCE_ID=instance, SELF_CHECK_INTERVAL_S="0.5"
    )
    user, other = new_user(), new_user()
    tab = await Tab.open(realtime.url(token(user)))
    other_tab = await Tab.open(realtime.url(token(other)))
    await tab.established()
    await other_tab.established()
    await api.create([user, other])
    await tab.wait_for("seq 1", lambda _: new_seqs(tab) == [1])

    # Events flowing as they should: rounds pass and nobody is found stalled.
    rounds = realtime.metrics()["tocsin_realtime_self_checks_total"]
    await eventually(
        lambda: realtime.metrics()["tocsin_realtime_self_checks_total"],
        lambda n: n >= rounds + 3,
        what="three self-check rounds",
    )
    assert realtime.metrics()["tocsin_realtime_stalled_users_total"] == 0

    # The broker loses the user's binding; the instance is not told.
    await asyncio.to_thread(
        private_rabbitmq.remove_binding,
        topology.events_exchange,
        topology.realtime_queue(instance),
        binding_for_user(user),
    )
    await api.create([user])
    await api.create([other])  # traffic after the user's event: it is not coming
    await other_tab.wait_for("the other user's seq 2", lambda _: new_seqs(other_tab) == [1, 2])

    # Found, counted, and the socket told to catch up (it never saw seq 2).
    assert await tab.closed(timeout=30) == 1012
    assert new_seqs(tab) == [1]
    assert realtime.metrics()["tocsin_realtime_stalled_users_total"] == 1
    assert other_tab.close_code is None

    # Its client reconnects with `since`, gets seq 2 from the event store, and seq 3 live: the
    # binding is back.
    again = await Tab.open(realtime.url(token(user), since=1))
    await again.established()
    await again.wait_for("seq 2 replayed", lambda _: new_seqs(again) == [2])
    await api.create([user])
    await again.wait_for("seq 3 live", lambda _: new_seqs(again) == [2, 3])
    assert realtime.metrics()["tocsin_realtime_stalled_users_total"] == 1
    await again.close()
    await other_tab.close()
