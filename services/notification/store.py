"""The write side: every change is one transaction that changes the projection, updates the
user's counters (the stats) and appends the event(s) with the stats after the change.

A user's `user_streams` row is locked first in every write (rows of several users in sorted
user id order), so a user's events get gap-free `seq` values and commit in `seq` order, and
concurrent writes never deadlock. Inserting into `events` fires `NOTIFY tocsin_events`
(a statement trigger), which wakes the relay.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import SCHEMA_VERSION, EventType
from contracts.notifications import Channel, Priority

STATS_COLUMNS = "last_seq, total, unread, unread_low, unread_normal, unread_high, unread_critical"


@dataclass(frozen=True)
class Content:
    """What a new notification says; the same for every recipient of one request."""

    type: str
    priority: Priority
    title: str
    message: str
    entity_type: str | None
    entity_id: str | None
    entity_url: str | None


@dataclass(frozen=True)
class Delivery:
    """One recipient of a new notification, resolved before the write."""

    user_id: str
    email: str | None
    name: str | None
    locale: str | None
    channels: Sequence[Channel]


@dataclass(frozen=True)
class CreatedNotification:
    id: str
    user_id: str
    seq: int
    event_id: str


@dataclass(frozen=True)
class Change:
    """The outcome of a state change: the stats after it and the event, if one was appended."""

    stats: dict[str, Any]
    seq: int | None
    event_id: str | None


def stats_of(row: Row[Any] | None) -> dict[str, Any]:
    """NotificationStats as a plain dict, from a `user_streams` row (None means no activity)."""
    if row is None:
        return {
            "total": 0,
            "unread": 0,
            "unread_by_priority": {p.value: 0 for p in Priority},
        }
    m = row._mapping
    return {
        "total": m["total"],
        "unread": m["unread"],
        "unread_by_priority": {p.value: m[f"unread_{p.value}"] for p in Priority},
    }


def notification_dict(
    notification_id: str, content: Content, created_at: datetime, is_read: bool = False
) -> dict[str, Any]:
    return {
        "id": notification_id,
        "type": content.type,
        "priority": content.priority.value,
        "title": content.title,
        "message": content.message,
        "entity_type": content.entity_type,
        "entity_id": content.entity_id,
        "entity_url": content.entity_url,
        "is_read": is_read,
        "created_at": created_at,
    }


_UPSERT_STREAMS = """
INSERT INTO notification.user_streams AS s
    (user_id, last_seq, total, unread, unread_low, unread_normal, unread_high, unread_critical)
SELECT u, 1, 1, 1, {low}, {normal}, {high}, {critical}
FROM unnest(CAST(:users AS text[])) AS u
ON CONFLICT (user_id) DO UPDATE SET
    last_seq = s.last_seq + 1, total = s.total + 1, unread = s.unread + 1,
    {column} = s.{column} + 1
RETURNING user_id, {stats}
"""

_UPSERT_BY_PRIORITY = {
    p: text(
        _UPSERT_STREAMS.format(
            column=f"unread_{p.value}",
            stats=STATS_COLUMNS,
            **{q.value: int(q is p) for q in Priority},
        )
    )
    for p in Priority
}

_INSERT_NOTIFICATIONS = text(
    """
INSERT INTO notification.notifications
    (id, user_id, type, priority, title, message, entity_type, entity_id, entity_url,
     is_read, created_at)
SELECT t.id, t.user_id, :type, :priority, :title, :message, :entity_type, :entity_id,
       :entity_url, false, :created_at
FROM unnest(CAST(:ids AS uuid[]), CAST(:users AS text[])) AS t(id, user_id)
"""
)

_APPEND_EVENTS = text(
    """
INSERT INTO notification.events
    (event_id, type, schema_version, occurred_at, user_id, seq, data, stats)
SELECT t.event_id, t.type, :schema_version, :occurred_at, t.user_id, t.seq,
       CAST(t.data AS jsonb), CAST(t.stats AS jsonb)
FROM unnest(CAST(:event_ids AS uuid[]), CAST(:types AS text[]), CAST(:users AS text[]),
            CAST(:seqs AS bigint[]), CAST(:datas AS text[]), CAST(:stats AS text[]))
     AS t(event_id, type, user_id, seq, data, stats)
"""
)


async def create_notifications(
    conn: AsyncConnection, content: Content, deliveries: Sequence[Delivery], now: datetime
) -> list[CreatedNotification]:
    """Record one notification per delivery (user ids must be distinct) and its
    `notification.created` event, in the caller's transaction."""
    by_user = {d.user_id: d for d in deliveries}
    users = sorted(by_user)
    rows = (await conn.execute(_UPSERT_BY_PRIORITY[content.priority], {"users": users})).all()
    ids = [str(uuid.uuid4()) for _ in rows]
    event_ids = [str(uuid.uuid4()) for _ in rows]
    row_users = [row.user_id for row in rows]
    seqs: list[int] = []
    datas: list[str] = []
    stats: list[str] = []
    for notification_id, row in zip(ids, rows, strict=True):
        delivery = by_user[row.user_id]
        seqs.append(row.last_seq)
        datas.append(
            orjson.dumps(
                {
                    "notification": notification_dict(notification_id, content, now),
                    "recipient": {
                        "user_id": delivery.user_id,
                        "email": delivery.email,
                        "name": delivery.name,
                        "locale": delivery.locale,
                    },
                    "channels": [c.value for c in delivery.channels],
                }
            ).decode()
        )
        stats.append(orjson.dumps(stats_of(row)).decode())
    await conn.execute(
        _INSERT_NOTIFICATIONS,
        {
            "ids": ids,
            "users": row_users,
            "type": content.type,
            "priority": content.priority.value,
            "title": content.title,
            "message": content.message,
            "entity_type": content.entity_type,
            "entity_id": content.entity_id,
            "entity_url": content.entity_url,
            "created_at": now,
        },
    )
    await conn.execute(
        _APPEND_EVENTS,
        {
            "schema_version": SCHEMA_VERSION,
            "occurred_at": now,
            "event_ids": event_ids,
            "types": [EventType.NOTIFICATION_CREATED.value] * len(rows),
            "users": row_users,
            "seqs": seqs,
            "datas": datas,
            "stats": stats,
        },
    )
    return [
        CreatedNotification(id=i, user_id=u, seq=s, event_id=e)
        for i, u, s, e in zip(ids, row_users, seqs, event_ids, strict=True)
    ]


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
            "datas": [orjson.dumps(data).decode()],
            "stats": [orjson.dumps(stats).decode()],
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
