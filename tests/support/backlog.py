"""A backlog of unpublished events in the event store, committed by one statement, for the
relay's tests and benchmarks."""

from __future__ import annotations

import asyncpg

_BACKLOG = """
INSERT INTO notification.events (event_id, type, schema_version, occurred_at, user_id, seq, data)
SELECT gen_random_uuid(), 'notification.created', '1.0', now(), $3 || (i % $2), i / $2 + $5,
       jsonb_build_object('notification', jsonb_build_object(
           'id', gen_random_uuid(), 'type', 'incident_assigned', 'priority', $4::text,
           'title', 'INC-' || i || ' assigned to you', 'message', 'Database latency is high.',
           'is_read', false, 'created_at', now()))
FROM generate_series(0, $1 - 1) AS i
"""


async def insert_backlog(
    conn: asyncpg.Connection,
    events: int,
    users: int,
    prefix: str,
    priority: str = "normal",
    first_seq: int = 1,
) -> None:
    """`events` unpublished `notification.created` events of `priority` for the users
    `<prefix>0` … `<prefix><users - 1>` (taking turns, each user's seq from `first_seq`)."""
    await conn.execute(_BACKLOG, events, users, prefix, priority, first_seq)


async def unpublished(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM notification.events WHERE position IS NULL")
    )
