"""Creating notifications: the one `notification.created` write path.

One SQL statement writes any number of new notifications (of mixed content, as the create
batcher gathers them, or of one content, for a request or an incident event): it upserts the
recipients' streams in user id order, inserts the notifications and appends their
`notification.created` events with the stats after, optionally together with an idempotency
claim (then nothing is written when the key already exists). `delivery_for` and
`created_event_data` are the one place a recipient and an event's data are made.
"""

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
from services.notification.preferences import resolve_channels
from services.notification.queries import Recipient
from services.notification.records import (
    Content,
    CreatedNotification,
    Delivery,
    current_traceparent,
    notification_dict,
)

_UNREAD_BY_PRIORITY = ", ".join(f"(priority = '{p.value}')::int" for p in Priority)
_ADD_UNREAD = ", ".join(
    f"unread_{p.value} = s.unread_{p.value} + EXCLUDED.unread_{p.value}" for p in Priority
)

_CREATE = """
WITH claimed AS ({claim}),
input AS (
    SELECT * FROM unnest(
        CAST(:users AS text[]), CAST(:ids AS uuid[]), CAST(:event_ids AS uuid[]),
        CAST(:datas AS text[]), CAST(:types AS text[]), CAST(:priorities AS text[]),
        CAST(:titles AS text[]), CAST(:messages AS text[]), CAST(:entity_types AS text[]),
        CAST(:entity_ids AS text[]), CAST(:entity_urls AS text[]),
        CAST(:created_ats AS timestamptz[]), CAST(:traceparents AS text[])
    ) AS t(user_id, id, event_id, data, type, priority, title, message, entity_type,
           entity_id, entity_url, created_at, traceparent)
    WHERE EXISTS (SELECT 1 FROM claimed)
),
s AS (
    INSERT INTO notification.user_streams AS s
        (user_id, last_seq, total, unread, unread_low, unread_normal, unread_high,
         unread_critical)
    SELECT user_id, 1, 1, 1, {unread_by_priority} FROM input ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET
        last_seq = s.last_seq + 1, total = s.total + 1, unread = s.unread + 1, {add_unread}
    RETURNING s.*
),
n AS (
    INSERT INTO notification.notifications
        (id, user_id, type, priority, title, message, entity_type, entity_id, entity_url,
         is_read, created_at)
    SELECT id, user_id, type, priority, title, message, entity_type, entity_id, entity_url,
           false, created_at
    FROM input
)
INSERT INTO notification.events
    (event_id, type, schema_version, occurred_at, user_id, seq, data, stats, traceparent)
SELECT i.event_id, 'notification.created', :schema_version, i.created_at, s.user_id,
       s.last_seq, CAST(i.data AS jsonb),
       jsonb_build_object(
           'total', s.total, 'unread', s.unread,
           'unread_by_priority', jsonb_build_object(
               'low', s.unread_low, 'normal', s.unread_normal, 'high', s.unread_high,
               'critical', s.unread_critical)),
       i.traceparent
FROM s JOIN input AS i ON i.user_id = s.user_id
RETURNING user_id, seq
"""

_CLAIM_NOTHING = "SELECT 1"
_CLAIM_KEY = """
    INSERT INTO notification.idempotency_keys
        (caller, key, request_hash, status_code, response, created_at)
    VALUES (:caller, :key, :request_hash, :status_code, CAST(:response AS jsonb), :claimed_at)
    ON CONFLICT DO NOTHING
    RETURNING 1
"""


def _create_statement(claim: str) -> TextClause:
    return text(
        _CREATE.format(claim=claim, unread_by_priority=_UNREAD_BY_PRIORITY, add_unread=_ADD_UNREAD)
    )


_CREATE_PLAIN = _create_statement(_CLAIM_NOTHING)
_CREATE_CLAIMING = _create_statement(_CLAIM_KEY)

_COLUMNS = (
    "users",
    "ids",
    "event_ids",
    "datas",
    "types",
    "priorities",
    "titles",
    "messages",
    "entity_types",
    "entity_ids",
    "entity_urls",
    "created_ats",
    "traceparents",
)


@dataclass(frozen=True)
class IdempotencyClaim:
    """Record this response under (caller, key) in the same statement as the create."""

    caller: str
    key: str
    request_hash: str
    status_code: int
    response: dict[str, Any]
    claimed_at: datetime


@dataclass(frozen=True)
class NewNotification:
    """One notification to write: its id, what it says, to whom, when, and the trace."""

    id: str
    content: Content
    delivery: Delivery
    created_at: datetime
    traceparent: str | None


def delivery_for(
    recipient: Recipient,
    content: Content,
    *,
    email: str | None = None,
    name: str | None = None,
) -> Delivery:
    """The recipient of a new notification: the subscriber record's details (`email` and
    `name`, when given, fill its gaps) and the channels its preferences resolve to."""
    return Delivery(
        user_id=recipient.user_id,
        email=recipient.email or email,
        name=recipient.name or name,
        locale=recipient.locale,
        channels=resolve_channels(content.type, content.priority, recipient.preferences),
    )


def created_event_data(
    notification_id: str, content: Content, created_at: datetime, delivery: Delivery
) -> dict[str, Any]:
    """The data of a `notification.created` event (contracts.NotificationCreated)."""
    return {
        "notification": notification_dict(notification_id, content, created_at),
        "recipient": {
            "user_id": delivery.user_id,
            "email": delivery.email,
            "name": delivery.name,
            "locale": delivery.locale,
        },
        "channels": [c.value for c in delivery.channels],
    }


async def write_notifications(
    conn: AsyncConnection,
    rows: Sequence[NewNotification],
    claim: IdempotencyClaim | None = None,
) -> list[CreatedNotification] | None:
    """Write `rows` (user ids distinct) and their `notification.created` events in ONE
    statement: one round trip and one implicit transaction, even on an autocommit
    connection. Results are in the order of `rows`. With `claim`, the idempotency key is
    inserted in the same statement: returns None (and writes nothing) when it already
    exists."""
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    event_ids = [str(uuid.uuid4()) for _ in rows]
    for row, event_id in zip(rows, event_ids, strict=True):
        c = row.content
        data = created_event_data(row.id, c, row.created_at, row.delivery)
        for name, value in (
            ("users", row.delivery.user_id),
            ("ids", row.id),
            ("event_ids", event_id),
            ("datas", orjson.dumps(data, option=orjson.OPT_UTC_Z).decode()),
            ("types", c.type),
            ("priorities", c.priority.value),
            ("titles", c.title),
            ("messages", c.message),
            ("entity_types", c.entity_type),
            ("entity_ids", c.entity_id),
            ("entity_urls", c.entity_url),
            ("created_ats", row.created_at),
            ("traceparents", row.traceparent),
        ):
            columns[name].append(value)
    params: dict[str, Any] = {**columns, "schema_version": SCHEMA_VERSION}
    if claim is not None:
        params |= {
            "caller": claim.caller,
            "key": claim.key,
            "request_hash": claim.request_hash,
            "status_code": claim.status_code,
            "response": orjson.dumps(claim.response).decode(),
            "claimed_at": claim.claimed_at,
        }
    statement = _CREATE_PLAIN if claim is None else _CREATE_CLAIMING
    written = (await conn.execute(statement, params)).all()
    if not written and claim is not None:
        return None
    seq_of = {w.user_id: w.seq for w in written}
    return [
        CreatedNotification(
            id=row.id, user_id=row.delivery.user_id, seq=seq_of[row.delivery.user_id], event_id=e
        )
        for row, e in zip(rows, event_ids, strict=True)
    ]


def _rows(
    content: Content, deliveries: Sequence[Delivery], now: datetime, ids: Sequence[str]
) -> list[NewNotification]:
    traceparent = current_traceparent()
    return [
        NewNotification(id=i, content=content, delivery=d, created_at=now, traceparent=traceparent)
        for i, d in zip(ids, deliveries, strict=True)
    ]


async def create_notifications(
    conn: AsyncConnection,
    content: Content,
    deliveries: Sequence[Delivery],
    now: datetime,
    ids: Sequence[str] | None = None,
) -> list[CreatedNotification]:
    """`write_notifications` for one content (`ids[i]`, when given, is the id of delivery
    i), under the current trace."""
    chosen = list(ids) if ids is not None else [str(uuid.uuid4()) for _ in deliveries]
    created = await write_notifications(conn, _rows(content, deliveries, now, chosen))
    assert created is not None  # None only with an idempotency claim
    return created


async def create_notifications_once(
    conn: AsyncConnection,
    content: Content,
    deliveries: Sequence[Delivery],
    now: datetime,
    ids: Sequence[str],
    claim: IdempotencyClaim,
) -> list[CreatedNotification] | None:
    """`create_notifications` with the idempotency claim in the same statement: returns
    None (and creates nothing) when the key already exists."""
    return await write_notifications(conn, _rows(content, deliveries, now, ids), claim)
