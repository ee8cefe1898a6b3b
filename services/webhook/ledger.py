"""The consumer's records: which endpoints an event goes to, how each delivery stands, and
every attempt. All SQL of the delivery path lives here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import EventType
from services.webhook import tables

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"


@dataclass(frozen=True)
class Target:
    """One pending delivery, locked by the caller's transaction."""

    endpoint_id: str
    url: str
    secrets: tuple[str, ...]
    """The current secret, then the previous one while a rotation's grace period lasts."""
    enabled: bool
    attempts: int
    next_attempt_at: datetime | None
    failing_since: datetime | None


@dataclass(frozen=True)
class FinishedDelivery:
    endpoint_id: str
    status: str
    attempts: int
    last_error: str | None
    notification_id: str | None


def _subscribed(event_type: str) -> sa.ColumnElement[bool]:
    types = tables.endpoints.c.event_types
    clauses = [types.any_() == "*", types.any_() == event_type]
    if event_type.startswith("notification."):
        clauses.append(types.any_() == "notification.*")
    return sa.or_(*clauses)


_PLAN = sa.text(
    """
    WITH new_event AS (
        INSERT INTO webhook.events (event_id, type, user_id)
        VALUES (:event_id, :event_type, :user_id)
        ON CONFLICT DO NOTHING
        RETURNING event_id
    ), planned AS (
        INSERT INTO webhook.deliveries (event_id, endpoint_id, notification_id)
        SELECT new_event.event_id, e.id, CAST(:notification_id AS text)
        FROM new_event JOIN webhook.endpoints AS e ON e.enabled
        WHERE (e.user_id IS NULL OR (NOT CAST(:broadcast AS boolean) AND e.user_id = :user_id))
          AND ('*' = ANY(e.event_types)
               OR CAST(:event_type AS text) = ANY(e.event_types)
               OR (CAST(:event_type AS text) LIKE 'notification.%'
                   AND 'notification.*' = ANY(e.event_types)))
        ON CONFLICT DO NOTHING
        RETURNING endpoint_id
    )
    SELECT EXISTS (SELECT 1 FROM new_event) AS new,
           ARRAY(SELECT endpoint_id FROM planned) AS endpoints
    """
)


@asynccontextmanager
async def _autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection without BEGIN/COMMIT round trips, for single statements."""
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


async def plan(
    engine: AsyncEngine,
    event_id: str,
    event_type: str,
    user_id: str,
    notification_id: str | None,
) -> list[str] | None:
    """The first time an event is seen, record it with one pending delivery per matching
    enabled endpoint (global ones, and the user's own; broadcasts: global ones) and return
    those endpoints' ids. Later calls change nothing and return None. One statement, so the
    event row and its deliveries commit together."""
    params = {
        "event_id": event_id,
        "event_type": event_type,
        "user_id": user_id,
        "notification_id": notification_id,
        "broadcast": event_type == EventType.NOTIFICATION_BROADCAST,
    }
    async with _autocommit(engine) as conn:
        row = (await conn.execute(_PLAN, params)).one()
    return list(row.endpoints) if row.new else None


async def reopen(engine: AsyncEngine, event_id: str) -> None:
    """Make the event's finished deliveries to enabled endpoints pending again (forced replay)."""
    d, e = tables.deliveries, tables.endpoints
    enabled = sa.select(e.c.id).where(e.c.enabled)
    async with engine.begin() as conn:
        await conn.execute(
            d.update()
            .where(d.c.event_id == event_id, d.c.endpoint_id.in_(enabled))
            .values(
                status=PENDING, next_attempt_at=None, completed_at=None, outcome_published=False
            )
        )


async def pending_endpoints(engine: AsyncEngine, event_id: str) -> list[str]:
    d = tables.deliveries
    query = sa.select(d.c.endpoint_id).where(d.c.event_id == event_id, d.c.status == PENDING)
    async with _autocommit(engine) as conn:
        return list((await conn.execute(query)).scalars())


async def lock_target(conn: AsyncConnection, event_id: str, endpoint_id: str) -> Target | None:
    """Lock one pending delivery for this transaction; None when it is no longer pending or
    another consumer holds it (see `exists_pending` to tell them apart)."""
    d, e = tables.deliveries, tables.endpoints
    query = (
        sa.select(
            d.c.attempts,
            d.c.next_attempt_at,
            e.c.id,
            e.c.url,
            e.c.secret,
            e.c.previous_secret,
            e.c.previous_secret_expires_at,
            e.c.enabled,
            e.c.failing_since,
        )
        .join(e, e.c.id == d.c.endpoint_id)
        .where(d.c.event_id == event_id, d.c.endpoint_id == endpoint_id, d.c.status == PENDING)
        .with_for_update(of=d, skip_locked=True)
    )
    row = (await conn.execute(query)).one_or_none()
    if row is None:
        return None
    keys: tuple[str, ...] = (row.secret,)
    expires = row.previous_secret_expires_at
    if row.previous_secret and expires is not None and expires > datetime.now(UTC):
        keys = (row.secret, row.previous_secret)
    return Target(
        row.id,
        row.url,
        keys,
        row.enabled,
        row.attempts,
        row.next_attempt_at,
        row.failing_since,
    )


async def exists_pending(conn: AsyncConnection, event_id: str, endpoint_id: str) -> bool:
    d = tables.deliveries
    query = sa.select(sa.literal(1)).where(
        d.c.event_id == event_id, d.c.endpoint_id == endpoint_id, d.c.status == PENDING
    )
    return (await conn.execute(query)).one_or_none() is not None


async def record_attempt(
    conn: AsyncConnection,
    event_id: str,
    endpoint_id: str,
    *,
    status: str,
    attempts: int,
    last_error: str | None,
    next_attempt_at: datetime | None,
    attempt: dict[str, Any],
) -> None:
    """Write one attempt and the delivery's new state (one statement)."""
    written = (
        tables.attempts.insert()
        .values(event_id=event_id, endpoint_id=endpoint_id, **attempt)
        .cte("written_attempt")
    )
    await conn.execute(
        _delivery_update(
            event_id, endpoint_id, status, attempts, last_error, next_attempt_at
        ).add_cte(written)
    )


async def update_delivery(
    conn: AsyncConnection,
    event_id: str,
    endpoint_id: str,
    *,
    status: str,
    attempts: int,
    last_error: str | None,
    next_attempt_at: datetime | None = None,
) -> None:
    await conn.execute(
        _delivery_update(event_id, endpoint_id, status, attempts, last_error, next_attempt_at)
    )


def _delivery_update(
    event_id: str,
    endpoint_id: str,
    status: str,
    attempts: int,
    last_error: str | None,
    next_attempt_at: datetime | None,
) -> sa.Update:
    d = tables.deliveries
    return (
        d.update()
        .where(d.c.event_id == event_id, d.c.endpoint_id == endpoint_id)
        .values(
            status=status,
            attempts=attempts,
            last_error=last_error,
            next_attempt_at=next_attempt_at,
            completed_at=None if status == PENDING else sa.func.now(),
        )
    )


async def endpoint_succeeded(conn: AsyncConnection, endpoint_id: str) -> None:
    e = tables.endpoints
    await conn.execute(
        e.update()
        .where(e.c.id == endpoint_id, e.c.failing_since.is_not(None))
        .values(failing_since=None)
    )


async def endpoint_failed(
    conn: AsyncConnection, endpoint_id: str, disable_after: timedelta
) -> bool:
    """Start or continue the endpoint's failure streak; disable it once the streak is older
    than `disable_after`. Returns True when this call disabled it."""
    e = tables.endpoints
    row = (
        await conn.execute(
            e.update()
            .where(e.c.id == endpoint_id)
            .values(failing_since=sa.func.coalesce(e.c.failing_since, sa.func.now()))
            .returning(e.c.failing_since, sa.func.now().label("now"), e.c.enabled)
        )
    ).one()
    if row.enabled and row.now - row.failing_since >= disable_after:
        await disable_endpoint(conn, endpoint_id, f"failing since {row.failing_since.isoformat()}")
        return True
    return False


async def disable_endpoint(conn: AsyncConnection, endpoint_id: str, reason: str) -> None:
    e = tables.endpoints
    await conn.execute(
        e.update()
        .where(e.c.id == endpoint_id)
        .values(enabled=False, disabled_reason=reason, updated_at=sa.func.now())
    )


async def unpublished_outcomes(engine: AsyncEngine, event_id: str) -> list[FinishedDelivery]:
    d = tables.deliveries
    query = sa.select(d).where(
        d.c.event_id == event_id, d.c.status != PENDING, d.c.outcome_published.is_(False)
    )
    async with _autocommit(engine) as conn:
        return [
            FinishedDelivery(r.endpoint_id, r.status, r.attempts, r.last_error, r.notification_id)
            for r in await conn.execute(query)
        ]


async def mark_published(engine: AsyncEngine, event_id: str, endpoint_ids: list[str]) -> None:
    d = tables.deliveries
    async with _autocommit(engine) as conn:
        await conn.execute(
            d.update()
            .where(d.c.event_id == event_id, d.c.endpoint_id.in_(endpoint_ids))
            .values(outcome_published=True)
        )
