"""Old push history is forgotten; waiting pushes and unpublished outcomes never are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contracts.notifications import Priority
from services.push import tables
from services.push.retention import prune
from tests.push.servers import WebPushService
from tests.support.push_service import PushService, created_event, notification_id
from tests.support.users import new_user


async def test_old_history_is_pruned_but_a_waiting_push_stays(
    service: PushService, web_push: WebPushService
) -> None:
    user = new_user()
    await service.subscribe(web_push, user)
    sent, waiting = created_event(user, priority=Priority.CRITICAL), created_event(user)
    await service.publish(sent)
    await service.wait_state(notification_id(sent), "sent")
    await service.publish(waiting)
    await service.wait_state(notification_id(waiting), "waiting")
    long_ago = datetime.now(UTC) - timedelta(days=40)
    ids = [notification_id(sent), notification_id(waiting)]
    async with service.engine.begin() as conn:
        await conn.execute(
            tables.pushes.update()
            .where(tables.pushes.c.notification_id.in_(ids))
            .values(
                created_at=long_ago,
                finished_at=sa.case((tables.pushes.c.state == "sent", long_ago), else_=None),
            )
        )
        await conn.execute(
            tables.sends.update()
            .where(tables.sends.c.notification_id.in_(ids))
            .values(updated_at=long_ago, outcome_published=True)
        )
        await conn.execute(
            tables.events.update()
            .where(tables.events.c.event_id.in_([sent.event_id, waiting.event_id]))
            .values(received_at=long_ago)
        )

    removed = await prune(service.engine, datetime.now(UTC) - timedelta(days=30))

    assert removed["events"] >= 2 and removed["pushes"] >= 1 and removed["sends"] >= 1
    assert await service.push_state(notification_id(sent)) is None
    assert await service.push_state(notification_id(waiting)) == "waiting"
