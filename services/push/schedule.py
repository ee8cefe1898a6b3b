"""Recording what the consumer learns: a notification to push (a timer row), or a read,
read-all or delete that cancels one. Each function runs in the caller's transaction and is
idempotent by event id (a redelivered or replayed event changes nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import EventEnvelope
from contracts.notifications import NotificationData
from services.push import tables


async def first_sight(conn: AsyncConnection, envelope: EventEnvelope) -> bool:
    """Record the event id; False when it was seen before."""
    inserted = await conn.execute(
        insert(tables.events)
        .values(event_id=envelope.event_id, type=envelope.type.value)
        .on_conflict_do_nothing()
        .returning(tables.events.c.event_id)
    )
    return inserted.first() is not None


async def schedule(
    conn: AsyncConnection,
    envelope: EventEnvelope,
    notification: NotificationData,
    due_at: datetime,
    *,
    force: bool = False,
) -> bool:
    """A waiting push for `notification`, due at `due_at`. Nothing happens when the
    notification already has a row (a cancel came first, or it was scheduled before), unless
    `force` (an operator's forced replay): then it waits again and every device gets it again.
    Returns whether a push now waits."""
    pushes = tables.pushes
    values = {
        "notification_id": notification.id,
        "user_id": envelope.user_id,
        "event_id": envelope.event_id,
        "notification": notification.model_dump(mode="json"),
        "state": "waiting",
        "due_at": due_at,
    }
    statement = insert(pushes).values(**values)
    if force:
        await conn.execute(
            tables.sends.delete().where(tables.sends.c.notification_id == notification.id)
        )
        statement = statement.on_conflict_do_update(
            index_elements=[pushes.c.notification_id],
            set_={"state": "waiting", "due_at": due_at, "attempts": 0, "finished_at": None},
        )
    else:
        statement = statement.on_conflict_do_nothing()
    result = await conn.execute(statement.returning(pushes.c.notification_id))
    return result.first() is not None


async def cancel(
    conn: AsyncConnection, user_id: str, notification_ids: Sequence[str], reason: str
) -> int:
    """Cancel the waiting pushes of these notifications; leave a cancelled row for those not
    seen yet, so their late `created` schedules nothing. Returns how many waiting pushes were
    cancelled."""
    if not notification_ids:
        return 0
    pushes = tables.pushes
    statement = insert(pushes).values(
        [
            {"notification_id": nid, "user_id": user_id, "state": "cancelled", "reason": reason}
            for nid in dict.fromkeys(notification_ids)
        ]
    )
    statement = statement.on_conflict_do_update(
        index_elements=[pushes.c.notification_id],
        set_={"state": "cancelled", "reason": reason, "finished_at": sa.func.now()},
        where=pushes.c.state == "waiting",
    )
    result = await conn.execute(statement.returning(pushes.c.notification_id, pushes.c.event_id))
    return sum(1 for row in result if row.event_id is not None)
