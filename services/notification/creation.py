"""Creating notifications: one SQL statement per request (or per idempotent request, with
its idempotency claim) that upserts the recipients' streams in user id order, inserts the
notifications and appends their `notification.created` events with the stats after."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import SCHEMA_VERSION
from contracts.notifications import Priority
from services.notification.records import (
    Content,
    CreatedNotification,
    Delivery,
    current_traceparent,
    notification_dict,
)

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
            },
            option=orjson.OPT_UTC_Z,
        ).decode()
        for notification_id, d in zip(ids, deliveries, strict=True)
    ]
    params: dict[str, Any] = {
        "users": [d.user_id for d in deliveries],
        "ids": list(ids),
        "event_ids": event_ids,
        "datas": datas,
        **content.columns(),
        "created_at": now,
        "schema_version": SCHEMA_VERSION,
        "traceparent": current_traceparent(),
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
