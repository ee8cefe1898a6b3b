"""Old delivery history is forgotten; pending deliveries never are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.webhook import tables
from services.webhook.retention import prune
from tests.support.users import new_user
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhook_service import WebhookService, created_event, user_token


async def test_history_older_than_the_retention_is_pruned_but_pending_deliveries_stay(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    engine = service.app.state.webhook.engine
    user = new_user()
    endpoint = await service.register(receiver, "kept", user_token(user))
    old, recent = created_event(user), created_event(user)
    for event in (old, recent):
        await service.publish(event)
    await eventually(lambda: len(receiver.at("kept")) == 2, what="both delivered")
    await eventually(
        lambda: service.attempts(endpoint["id"]), lambda a: len(a) == 2, what="two attempts"
    )
    long_ago = datetime.now(UTC) - timedelta(days=40)
    stuck = created_event(user)
    async with engine.begin() as conn:
        await conn.execute(
            tables.attempts.update()
            .where(tables.attempts.c.event_id == old.event_id)
            .values(at=long_ago)
        )
        await conn.execute(
            tables.deliveries.update()
            .where(tables.deliveries.c.event_id == old.event_id)
            .values(completed_at=long_ago)
        )
        await conn.execute(
            tables.events.insert().values(
                event_id=stuck.event_id, type="notification.created", user_id=user
            )
        )
        await conn.execute(
            tables.deliveries.insert().values(event_id=stuck.event_id, endpoint_id=endpoint["id"])
        )
        await conn.execute(
            tables.events.update()
            .where(tables.events.c.event_id.in_([old.event_id, stuck.event_id]))
            .values(received_at=long_ago)
        )

    removed = await prune(engine, datetime.now(UTC) - timedelta(days=30))

    assert removed["attempts"] >= 1 and removed["deliveries"] >= 1 and removed["events"] >= 1
    async with engine.connect() as conn:
        events = set(
            (
                await conn.execute(
                    sa.select(tables.events.c.event_id).where(tables.events.c.user_id == user)
                )
            ).scalars()
        )
    assert events == {recent.event_id, stuck.event_id}
    assert [a["event_id"] for a in await service.attempts(endpoint["id"])] == [recent.event_id]
