"""The write side: every change is one transaction that changes the projection, updates the
user's counters (the stats) and appends the event(s) with the stats after the change.

A user's `user_streams` row is locked first in every write (rows of several users in sorted
user id order), so a user's events get gap-free `seq` values and commit in `seq` order, and
concurrent writes never deadlock. After the commit the service layer wakes the relay
(`wakeup.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import SCHEMA_VERSION, EventType
from contracts.notifications import Channel, Priority
from observability.tracing import current_trace

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


_STATS_JSON = """jsonb_build_object(
        'total', s.total, 'unread', s.unread,
        'unread_by_priority', jsonb_build_object('low', s.unread_low, 'normal', s.unread_normal,
                                                 'high', s.unread_high,
                                                 'critical', s.unread_critical))"""

_CREATE = """
WITH claimed AS ({claim}),
input AS (
    SELECT t.user_id, t.id, t.event_id, t.data
    FROM unnest(CAST(:users AS text[]), CAST(:ids AS uuid[]), CAST(:event_ids AS uuid[]),
                CAST(:datas AS text[])) AS t(user_id, id, event_id, data)
    WHERE EXISTS (SELECT 1 FROM claimed)
),
s AS (
    INSERT INTO notification.user_streams AS s
        (user_id, last_seq, total, unread, unread_low, unread_normal, unread_high,
         unread_critical)
    SELECT user_id, 1, 1, 1, {low}, {normal}, {high}, {critical} FROM input ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET
        last_seq = s.last_seq + 1, total = s.total + 1, unread = s.unread + 1,
        {column} = s.{column} + 1
    RETURNING s.*
),
n AS (
    INSERT INTO notification.notifications
        (id, user_id, type, priority, title, message, entity_type, entity_id, entity_url,
         is_read, created_at)
    SELECT id, user_id, :type, :priority, :title, :message, :entity_type, :entity_id,
           :entity_url, false, :created_at
    FROM input
)
INSERT INTO notification.events
    (event_id, type, schema_version, occurred_at, user_id, seq, data, stats, traceparent)
SELECT i.event_id, 'notification.created', :schema_version, :created_at, s.user_id,
       s.last_seq, CAST(i.data AS jsonb), {stats}, :traceparent
FROM s JOIN input AS i ON i.user_id = s.user_id
RETURNING user_id, seq
"""

_CLAIM_NOTHING = "SELECT 1"
_CLAIM_KEY = """
    INSERT INTO notification.idempotency_keys
        (caller, key, request_hash, status_code, response, created_at)
    VALUES (:caller, :key, :request_hash, :status_code, CAST(:response AS jsonb), :created_at)
    ON CONFLICT DO NOTHING
    RETURNING 1
"""


def _create_statement(priority: Priority, claim: str) -> TextClause:
    return text(
        _CREATE.format(
            claim=claim,
            column=f"unread_{priority.value}",
            stats=_STATS_JSON,
            **{q.value: int(q is priority) for q in Priority},
        )
    )


_CREATE_BY_PRIORITY = {
    (p, keyed): _create_statement(p, _CLAIM_KEY if keyed else _CLAIM_NOTHING)
    for p in Priority
    for keyed in (False, True)
}


@dataclass(frozen=True)
class IdempotencyClaim:
    """Record this response under (caller, key) in the same statement as the create."""

    caller: str
    key: str
    request_hash: str
    status_code: int
    response: dict[str, Any]


async def create_notifications(
    conn: AsyncConnection,
    content: Content,
    deliveries: Sequence[Delivery],
    now: datetime,
    ids: Sequence[str] | None = None,
) -> list[CreatedNotification]:
    """Record one notification per delivery (user ids distinct; `ids[i]`, when given, is the
    id of delivery i) and its `notification.created` event with the stats after, in ONE
    statement: one round trip and one implicit transaction, even on an autocommit connection.
    Streams are upserted in user id order, which locks them in a deadlock-free order."""
    chosen = list(ids) if ids is not None else [str(uuid.uuid4()) for _ in deliveries]
    created = await create_notifications_once(conn, content, deliveries, now, chosen, None)
    assert created is not None
    return created


async def create_notifications_once(
    conn: AsyncConnection,
    content: Content,
    deliveries: Sequence[Delivery],
    now: datetime,
    ids: Sequence[str],
    claim: IdempotencyClaim | None,
) -> list[CreatedNotification] | None:
    """`create_notifications`, with an optional idempotency claim inserted in the same
    statement: returns None (and creates nothing) when the key already exists."""
    event_ids = [str(uuid.uuid4()) for _ in deliveries]
    datas = [
        orjson.dumps(
            {
                "notification": notification_dict(notification_id, content, now),
                "recipient": {
                    "user_id": d.user_id,
                    "email": d.email,
                    "name": d.name,
                    "locale": d.locale,
                },
                "channels": [c.value for c in d.channels],
            }
        ).decode()
        for notification_id, d in zip(ids, deliveries, strict=True)
    ]
    params: dict[str, Any] = {
        "users": [d.user_id for d in deliveries],
        "ids": list(ids),
        "event_ids": event_ids,
        "datas": datas,
        "type": content.type,
        "priority": content.priority.value,
        "title": content.title,
        "message": content.message,
        "entity_type": content.entity_type,
        "entity_id": content.entity_id,
        "entity_url": content.entity_url,
        "created_at": now,
        "schema_version": SCHEMA_VERSION,
        "traceparent": _traceparent(),
    }
    if claim is not None:
        params |= {
            "caller": claim.caller,
            "key": claim.key,
            "request_hash": claim.request_hash,
            "status_code": claim.status_code,
            "response": orjson.dumps(claim.response).decode(),
        }
    statement = _CREATE_BY_PRIORITY[(content.priority, claim is not None)]
    rows = (await conn.execute(statement, params)).all()
    if not rows and claim is not None:
        return None
    seq_of = {row.user_id: row.seq for row in rows}
    return [
        CreatedNotification(id=i, user_id=d.user_id, seq=seq_of[d.user_id], event_id=e)
        for i, d, e in zip(ids, deliveries, event_ids, strict=True)
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
            "datas": [orjson.dumps(data).decode()],
            "stats": [orjson.dumps(stats).decode()],
            "traceparent": _traceparent(),
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


def _traceparent() -> str | None:
    """The trace of the request (or message) being handled, kept with its events so the relay
    can carry it to every consumer."""
    trace = current_trace()
    return trace.traceparent if trace is not None else None
