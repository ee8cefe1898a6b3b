"""The online/offline policy against the real realtime service's presence (a realtime process
on the shared Redis, a real WebSocket): a person with no live socket gets the push at once, a
person online only once the delay has passed unread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.events import EventType
from contracts.notifications import Priority
from identity import mint_token
from services.push import tables
from services.push.presence import PresenceLookup
from tests.push.servers import WebPushService
from tests.realtime.sockets import Tab
from tests.support.presence import FAST
from tests.support.presence import presence_keys as presence_keys
from tests.support.presence import redis_client as redis_client
from tests.support.presence import redis_url as redis_url
from tests.support.push_service import JWT, JWT_SECRET, created_event, notification_id, user_event
from tests.support.realtime_service import start_realtime as start_realtime
from tests.support.users import new_user
from tests.support.waiting import eventually

pytestmark = pytest.mark.usefixtures("redis_client")  # deletes the test's presence keys

DELAY_S = 3600.0


async def test_offline_is_pushed_at_once_online_waits_and_a_read_cancels(
    start_realtime: Callable[..., Any],
    redis_url: str,
    service_factory: Callable[..., Any],
    web_push: WebPushService,
) -> None:
    realtime = start_realtime(REDIS_URL=redis_url, JWT_SECRET=JWT_SECRET, **FAST)
    realtime_url = f"http://127.0.0.1:{realtime.port}"
    here, away = new_user(), new_user()
    tab = await Tab.open(realtime.url(mint_token(JWT, here)))
    await tab.established()
    lookup = PresenceLookup(realtime_url, JWT, 2.0)
    try:
        await eventually(
            lambda: lookup.online([here, away]),
            lambda seen: seen == {here: True, away: False},
            what="presence of the open tab",
        )
    finally:
        await lookup.close()

    async with service_factory(delay_s=DELAY_S, realtime_url=realtime_url) as service:
        at_desk = await service.subscribe(web_push, here)
        on_the_road = await service.subscribe(web_push, away)
        for_here = created_event(here, priority=Priority.HIGH)
        for_away = created_event(away, priority=Priority.HIGH)
        await service.publish(for_here)
        await service.publish(for_away)

        await service.wait_state(notification_id(for_away), "sent")
        assert [p.payload["id"] for p in web_push.at(on_the_road)] == [notification_id(for_away)]

        await service.wait_state(notification_id(for_here), "waiting")
        async with service.engine.connect() as conn:
            due = (
                await conn.execute(
                    sa.select(tables.pushes.c.due_at).where(
                        tables.pushes.c.notification_id == notification_id(for_here)
                    )
                )
            ).scalar_one()
        created = datetime.fromisoformat(for_here.data["notification"]["created_at"])
        assert due - created >= timedelta(seconds=DELAY_S)

        read = user_event(here, EventType.NOTIFICATION_READ, {"id": notification_id(for_here)})
        await service.publish(read)
        await service.wait_state(notification_id(for_here), "cancelled")
        assert web_push.at(at_desk) == []
    await tab.close()


async def test_presence_that_cannot_be_asked_waits_for_the_delay(
    service_factory: Callable[..., Any], web_push: WebPushService
) -> None:
    """An unreachable realtime service means "unknown": wait, do not push at once."""
    async with service_factory(delay_s=DELAY_S, realtime_url="http://127.0.0.1:9") as service:
        user = new_user()
        browser = await service.subscribe(web_push, user)
        event = created_event(user, priority=Priority.HIGH)
        await service.publish(event)
        await service.wait_state(notification_id(event), "waiting")
        critical = created_event(user, priority=Priority.CRITICAL, entity=("incident", "c"))
        await service.publish(critical)
        await service.wait_state(notification_id(critical), "sent")
        assert [p.payload["id"] for p in web_push.at(browser)] == [notification_id(critical)]
