"""The write side: every change is one transaction that changes the projection, updates the
user's counters (the stats) and appends the event(s) with the stats after the change.

A user's `user_streams` row is locked first in every write (rows of several users in sorted
user id order), so a user's events get gap-free `seq` values and commit in `seq` order, and
concurrent writes never deadlock. After the commit the service layer wakes the relay
(`wakeup.py`). Creating notifications lives in `creation.py`, the values in `records.py`
(both re-exported here). Preferences and subscriber records (which append no event) are
written here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete as sql_delete
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import SCHEMA_VERSION, EventType
from contracts.notifications import Channel, Priority
from services.notification import tables
from services.notification.creation import (
    IdempotencyClaim,
    create_notifications,
    create_notifications_once,
    delivery_for,
)
from services.notification.preferences import Preference
from services.notification.records import (
    STATS_COLUMNS,
    Change,
    Content,
    CreatedNotification,
    Delivery,
    Subscriber,
    current_traceparent,
    notification_dict,
    stats_of,
)

__all__ = [
    "STATS_COLUMNS",
    "Change",
    "Content",
    "CreatedNotification",
    "Delivery",
    "IdempotencyClaim",
    "Subscriber",
    "create_notifications",
    "create_notifications_once",
    "delete",
    "delivery_for",
    "disable_channel",
    "lock_stream",
    "notification_dict",
    "read_all",
    "replace_preferences",
    "set_read",
    "stats_of",
    "upsert_subscriber",
]

_APPEND_EVENTS = text(
    """
INSERT INTO notification.events
    (event_id, type, schema_version, occurred_at, user_id, seq, data, stats, traceparent)
SELECT t.event_id, t.type, :schema_version, :occurred_at, t.user_id, t.seq,
       CAST(t.data AS jsonb), CAST(t.stats AS jsonb), :traceparent
FROM unnest(CAST(:event_ids AS uuid[]), CAST(:types AS text[]), CAST(:users AS text[]),
            CAST(:seqs AS bigint[]), CAST(:datas AS text[]), CAST(:stats AS text[]))
     AS t(event_id, type, user_id, seq, data, stats)
"""
)


_LOCK_STREAM = text(
    f"SELECT {STATS_COLUMNS} FROM notification.user_streams WHERE user_id = :user_id FOR UPDATE"
)


async def lock_stream(conn: AsyncConnection, user_id: str) -> Row[Any] | None:
    """Lock the user's stream row for the rest of the transaction; None if the user has none."""
    return (await conn.execute(_LOCK_STREAM, {"user_id": user_id})).first()


async def _advance(
    conn: AsyncConnection,
    user_id: str,
    event_type: EventType,
    data: dict[str, Any],
    now: datetime,
    *,
    total: int = 0,
    unread: dict[Priority, int] | None = None,
) -> Change:
    """Apply counter deltas, take the next seq and append one event with the stats after."""
    deltas = unread or {}
    assignments = ["last_seq = last_seq + 1", f"total = total + {int(total)}"]
    assignments.append(f"unread = unread + {sum(deltas.values())}")
    assignments += [f"unread_{p.value} = unread_{p.value} + {int(d)}" for p, d in deltas.items()]
    row = (
        await conn.execute(
            text(
                f"UPDATE notification.user_streams SET {', '.join(assignments)} "
                f"WHERE user_id = :user_id RETURNING {STATS_COLUMNS}"
            ),
            {"user_id": user_id},
        )
    ).one()
    stats = stats_of(row)
    event_id = str(uuid.uuid4())
    await conn.execute(
        _APPEND_EVENTS,
        {
            "schema_version": SCHEMA_VERSION,
            "occurred_at": now,
            "event_ids": [event_id],
            "types": [event_type.value],
            "users": [user_id],
            "seqs": [row.last_seq],
            "datas": [orjson.dumps(data, option=orjson.OPT_UTC_Z).decode()],
            "stats": [orjson.dumps(stats, option=orjson.OPT_UTC_Z).decode()],
            "traceparent": current_traceparent(),
        },
    )
    return Change(stats=stats, seq=row.last_seq, event_id=event_id)


_SET_READ = text(
    """
UPDATE notification.notifications SET is_read = :is_read
WHERE id = :id AND user_id = :user_id AND is_read = NOT :is_read
RETURNING priority
"""
)


async def set_read(
    conn: AsyncConnection, user_id: str, notification_id: str, is_read: bool, now: datetime
) -> Change | None:
    """Mark one notification read (or unread). None when the notification does not exist for
    this user; a Change without event when it already was in that state."""
    stream = await lock_stream(conn, user_id)
    if stream is None:
        return None
    params = {"id": notification_id, "user_id": user_id, "is_read": is_read}
    changed = (await conn.execute(_SET_READ, params)).first()
    if changed is None:
        exists = await conn.execute(
            text("SELECT 1 FROM notification.notifications WHERE id = :id AND user_id = :user_id"),
            {"id": notification_id, "user_id": user_id},
        )
        if exists.first() is None:
            return None
        return Change(stats=stats_of(stream), seq=None, event_id=None)
    delta = -1 if is_read else 1
    event_type = EventType.NOTIFICATION_READ if is_read else EventType.NOTIFICATION_UNREAD
    return await _advance(
        conn,
        user_id,
        event_type,
        {"id": notification_id},
        now,
        unread={Priority(changed.priority): delta},
    )


async def read_all(conn: AsyncConnection, user_id: str, now: datetime) -> Change:
    """Mark every unread notification of the user read: one `notification.read_all` event
    listing them, or no event when nothing was unread."""
    stream = await lock_stream(conn, user_id)
    if stream is None:
        return Change(stats=stats_of(None), seq=None, event_id=None)
    rows = (
        await conn.execute(
            text(
                "UPDATE notification.notifications SET is_read = true "
                "WHERE user_id = :user_id AND is_read = false RETURNING id, priority"
            ),
            {"user_id": user_id},
        )
    ).all()
    if not rows:
        return Change(stats=stats_of(stream), seq=None, event_id=None)
    deltas: dict[Priority, int] = {}
    for row in rows:
        priority = Priority(row.priority)
        deltas[priority] = deltas.get(priority, 0) - 1
    ids = [str(row.id) for row in rows]
    return await _advance(
        conn, user_id, EventType.NOTIFICATION_READ_ALL, {"ids": ids}, now, unread=deltas
    )


async def delete(
    conn: AsyncConnection, user_id: str, notification_id: str, now: datetime
) -> Change | None:
    """Delete one notification; None when it does not exist for this user."""
    stream = await lock_stream(conn, user_id)
    if stream is None:
        return None
    row = (
        await conn.execute(
            text(
                "DELETE FROM notification.notifications WHERE id = :id AND user_id = :user_id "
                "RETURNING priority, is_read"
            ),
            {"id": notification_id, "user_id": user_id},
        )
    ).first()
    if row is None:
        return None
    unread = {} if row.is_read else {Priority(row.priority): -1}
    return await _advance(
        conn,
        user_id,
        EventType.NOTIFICATION_DELETED,
        {"id": notification_id},
        now,
        total=-1,
        unread=unread,
    )


async def replace_preferences(
    conn: AsyncConnection, user_id: str, preferences: Sequence[Preference]
) -> None:
    """Replace all of the user's preferences (the last of two for one type and channel
    wins)."""
    pref = tables.preferences
    await conn.execute(sql_delete(pref).where(pref.c.user_id == user_id))
    if preferences:
        unique = {(p.type, p.channel): p for p in preferences}
        await conn.execute(
            insert(pref),
            [
                {"user_id": user_id, "type": t, "channel": c.value, "enabled": p.enabled}
                for (t, c), p in unique.items()
            ],
        )


async def disable_channel(
    conn: AsyncConnection, user_id: str, notification_type: str, channel: Channel
) -> None:
    """Turn `channel` off for the user and type (idempotent), keeping their other
    preferences."""
    pref = tables.preferences
    statement = insert(pref).values(
        user_id=user_id, type=notification_type, channel=channel.value, enabled=False
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[pref.c.user_id, pref.c.type, pref.c.channel],
            set_={"enabled": False},
        )
    )


async def upsert_subscriber(conn: AsyncConnection, subscriber: Subscriber, now: datetime) -> None:
    """Create or replace the person's subscriber record."""
    sub = tables.subscribers
    values = {
        "user_id": subscriber.user_id,
        "email": subscriber.email,
        "name": subscriber.name,
        "locale": subscriber.locale,
        "updated_at": now,
    }
    statement = insert(sub).values(**values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[sub.c.user_id],
            set_={k: statement.excluded[k] for k in values if k != "user_id"},
        )
    )
