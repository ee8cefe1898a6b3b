"""The read side: notifications and their delivery status, stats, preferences, recipients,
the known users and a user's event stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Row, and_, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.notifications import Channel, Priority
from services.notification import tables
from services.notification.preferences import Preference
from services.notification.records import stats_of

n = tables.notifications

NOTIFICATION_COLUMNS = (
    n.c.id,
    n.c.type,
    n.c.priority,
    n.c.title,
    n.c.message,
    n.c.entity_type,
    n.c.entity_id,
    n.c.entity_url,
    n.c.is_read,
    n.c.created_at,
)


@dataclass(frozen=True)
class ListFilter:
    unread: bool | None = None
    type: str | None = None
    priority: Priority | None = None


@dataclass(frozen=True)
class Recipient:
    user_id: str
    email: str | None
    name: str | None
    locale: str | None
    preferences: list[Preference]


@dataclass(frozen=True)
class ChannelDelivery:
    """The latest outcome on one channel; `targets` lists each target's when there are
    several (a notification delivered to more than one webhook endpoint)."""

    status: str
    attempts: int
    detail: str | None
    at: datetime
    target: str | None
    targets: list[ChannelDelivery] | None = field(default=None)


def _as_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["id"] = str(data["id"])
    return data


async def get_notification(
    conn: AsyncConnection, user_id: str, notification_id: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(*NOTIFICATION_COLUMNS).where(n.c.id == notification_id, n.c.user_id == user_id)
        )
    ).first()
    return None if row is None else _as_dict(row)


async def list_notifications(
    conn: AsyncConnection,
    user_id: str,
    filters: ListFilter,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first, the page after `after` = (created_at, id) of the previous page's last row."""
    query = select(*NOTIFICATION_COLUMNS).where(n.c.user_id == user_id)
    if filters.unread is not None:
        query = query.where(n.c.is_read.is_(not filters.unread))
    if filters.type is not None:
        query = query.where(n.c.type == filters.type)
    if filters.priority is not None:
        query = query.where(n.c.priority == filters.priority.value)
    if after is not None:
        created_at, last_id = after
        query = query.where(
            tuple_(n.c.created_at, n.c.id)
            < tuple_(literal(created_at, DateTime(timezone=True)), literal(last_id, n.c.id.type))
        )
    query = query.order_by(n.c.created_at.desc(), n.c.id.desc()).limit(limit)
    return [_as_dict(row) for row in (await conn.execute(query)).all()]


async def stats(conn: AsyncConnection, user_id: str) -> dict[str, Any]:
    s = tables.user_streams
    row = (await conn.execute(select(s).where(s.c.user_id == user_id))).first()
    return stats_of(row)


async def counted_stats(conn: AsyncConnection, user_id: str) -> dict[str, Any]:
    """Stats from a fresh COUNT over the projection (what the counters must always equal)."""
    unread = n.c.is_read.is_(False)
    row = (
        await conn.execute(
            select(
                func.count().label("total"),
                func.count().filter(unread).label("unread"),
                *[
                    func.count().filter(and_(unread, n.c.priority == p.value)).label(p.value)
                    for p in Priority
                ],
            ).where(n.c.user_id == user_id)
        )
    ).one()
    m = row._mapping
    return {
        "total": m["total"],
        "unread": m["unread"],
        "unread_by_priority": {p.value: m[p.value] for p in Priority},
    }


_RECIPIENTS = text(
    """
SELECT u.user_id, s.email, s.name, s.locale, p.types, p.channels, p.enabled
FROM unnest(CAST(:users AS text[])) AS u(user_id)
LEFT JOIN notification.subscribers AS s ON s.user_id = u.user_id
LEFT JOIN LATERAL (
    SELECT array_agg(type) AS types, array_agg(channel) AS channels,
           array_agg(enabled) AS enabled
    FROM notification.preferences
    WHERE user_id = u.user_id AND type IN (:type, '*')
) AS p ON true
"""
)


def _recipient(row: Row[Any]) -> Recipient:
    """A recipient row of `_RECIPIENTS` / `_RECIPIENTS_BY_TYPE`: the subscriber's details and
    its matching preferences as three parallel arrays."""
    return Recipient(
        user_id=row.user_id,
        email=row.email,
        name=row.name,
        locale=row.locale,
        preferences=[
            Preference(type=t, channel=Channel(c), enabled=e)
            for t, c, e in zip(row.types or (), row.channels or (), row.enabled or (), strict=True)
        ],
    )


async def recipients(
    conn: AsyncConnection, user_ids: Sequence[str], notification_type: str
) -> list[Recipient]:
    """Subscriber details and the preferences that apply to `notification_type`, per user,
    in one round trip."""
    rows = await conn.execute(_RECIPIENTS, {"users": list(user_ids), "type": notification_type})
    return [_recipient(row) for row in rows.all()]


_RECIPIENTS_BY_TYPE = text(
    """
SELECT u.user_id, u.type, s.email, s.name, s.locale, p.types, p.channels, p.enabled
FROM (SELECT DISTINCT * FROM unnest(CAST(:users AS text[]), CAST(:types AS text[])))
     AS u(user_id, type)
LEFT JOIN notification.subscribers AS s ON s.user_id = u.user_id
LEFT JOIN LATERAL (
    SELECT array_agg(type) AS types, array_agg(channel) AS channels,
           array_agg(enabled) AS enabled
    FROM notification.preferences AS p
    WHERE p.user_id = u.user_id AND p.type IN (u.type, '*')
) AS p ON true
"""
)


async def recipients_by_type(
    conn: AsyncConnection, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Recipient]:
    """`recipients` for (user id, notification type) pairs of mixed types, in one round trip."""
    rows = await conn.execute(
        _RECIPIENTS_BY_TYPE, {"users": [u for u, _ in pairs], "types": [t for _, t in pairs]}
    )
    return {(row.user_id, row.type): _recipient(row) for row in rows.all()}


async def preferences_of(conn: AsyncConnection, user_id: str) -> list[Preference]:
    pref = tables.preferences
    rows = await conn.execute(
        select(pref).where(pref.c.user_id == user_id).order_by(pref.c.type, pref.c.channel)
    )
    return [
        Preference(type=row.type, channel=Channel(row.channel), enabled=row.enabled)
        for row in rows.all()
    ]


async def events_after(
    conn: AsyncConnection, user_id: str, after_seq: int, limit: int
) -> tuple[list[dict[str, Any]], int, bool]:
    """The user's events with seq > after_seq in seq order (at most `limit`), the user's latest
    seq, and whether the list is complete (nothing more follows it). Two statements: run it in
    one snapshot (REPEATABLE READ) so that the latest seq and the list agree."""
    e = tables.events
    rows = (
        await conn.execute(
            select(
                e.c.event_id,
                e.c.type,
                e.c.schema_version,
                e.c.occurred_at,
                e.c.user_id,
                e.c.seq,
                e.c.position,
                e.c.data,
                e.c.stats,
            )
            .where(e.c.user_id == user_id, e.c.seq > after_seq)
            .order_by(e.c.seq)
            .limit(limit + 1)
        )
    ).all()
    s = tables.user_streams
    latest = (await conn.execute(select(s.c.last_seq).where(s.c.user_id == user_id))).scalar()
    events = []
    for row in rows[:limit]:
        event = dict(row._mapping)
        event["event_id"] = str(event["event_id"])
        events.append(event)
    return events, int(latest or 0), len(rows) <= limit


async def latest_seqs(conn: AsyncConnection, user_ids: Sequence[str]) -> dict[str, int]:
    """Each user's latest seq in one query; 0 for a user without events."""
    s = tables.user_streams
    rows = await conn.execute(
        select(s.c.user_id, s.c.last_seq).where(s.c.user_id.in_(set(user_ids)))
    )
    found = {row.user_id: int(row.last_seq) for row in rows}
    return {user_id: found.get(user_id, 0) for user_id in user_ids}


async def deliveries_of(
    conn: AsyncConnection, user_id: str, notification_id: str
) -> dict[str, ChannelDelivery]:
    """Per channel, the latest outcome (and every target's when there are several)."""
    d = tables.deliveries
    rows = (
        await conn.execute(
            select(d)
            .where(d.c.notification_id == notification_id, d.c.user_id == user_id)
            .order_by(d.c.channel, d.c.at.desc())
        )
    ).all()
    result: dict[str, ChannelDelivery] = {}
    for row in rows:
        status = ChannelDelivery(
            status=row.status,
            attempts=row.attempts,
            detail=row.detail,
            at=row.at,
            target=row.target or None,
        )
        latest = result.get(row.channel)
        if latest is None:
            result[row.channel] = status
        elif latest.targets is None:
            result[row.channel] = replace(latest, targets=[latest, status])
        else:
            latest.targets.append(status)
    return result


_KNOWN_USERS = text(
    """
SELECT user_id FROM notification.user_streams
UNION
SELECT user_id FROM notification.subscribers
ORDER BY 1
"""
)


async def known_users(conn: AsyncConnection) -> list[str]:
    """Every user with a notification stream or a subscriber record, in user id order."""
    return [row.user_id for row in await conn.execute(_KNOWN_USERS)]
