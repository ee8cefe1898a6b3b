"""The email consumer's records: which events were processed, and every attempt.

`claim()` opens the transaction that makes a delivery happen at most once per event id: it
inserts the event's row (status `sending`), which blocks a concurrent copy handling the same
event until this transaction ends; the caller sends the email and then `finish()`es the row in
the same transaction. A crash before the commit rolls the claim back, so the event is retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import utc_now
from services.email.tables import delivery_log, processed_events


class Status:
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Processed:
    """An event this consumer already finished with."""

    event_id: str
    notification_id: str
    user_id: str
    status: str
    recipient: str | None
    attempts: int
    detail: str | None
    processed_at: datetime
    outcome_published: bool


@dataclass(frozen=True)
class Claim:
    event_id: str
    notification_id: str
    user_id: str
    notification_type: str
    recipient: str | None
    attempt: int


_CLAIM = """
    INSERT INTO email.processed_events
           (event_id, notification_id, user_id, notification_type, status, recipient,
            attempts, processed_at)
    VALUES (:event_id, :notification_id, :user_id, :notification_type, 'sending', :recipient,
            :attempts, :processed_at)
    ON CONFLICT (event_id) DO {on_conflict}
    RETURNING event_id
"""
_CLAIM_NEW = sa.text(_CLAIM.format(on_conflict="NOTHING"))
_CLAIM_AGAIN = sa.text(
    _CLAIM.format(on_conflict="UPDATE SET status = 'sending', outcome_published_at = NULL")
)


async def claim(
    connection: AsyncConnection, claim: Claim, *, force: bool = False
) -> Processed | None:
    """Insert the event's row inside the caller's transaction; returns the existing record
    instead when the event was already processed (the caller must not deliver again).
    `force` (an operator's forced replay) reopens a processed event instead."""
    inserted = await connection.execute(
        _CLAIM_AGAIN if force else _CLAIM_NEW,
        {
            "event_id": claim.event_id,
            "notification_id": claim.notification_id,
            "user_id": claim.user_id,
            "notification_type": claim.notification_type,
            "recipient": claim.recipient,
            "attempts": claim.attempt,
            "processed_at": utc_now(),
        },
    )
    if inserted.first() is not None:
        return None
    return await find(connection, claim.event_id)


_FINISH = sa.text(
    """
    WITH settled AS (
        UPDATE email.processed_events
           SET status = :status, message_id = :message_id, detail = :detail,
               processed_at = :at, attempts = :attempt, outcome_published_at = :published_at
         WHERE event_id = :event_id
     RETURNING event_id
    )
    INSERT INTO email.delivery_log (event_id, attempt, outcome, smtp_code, detail, duration_ms, at)
    SELECT event_id, CAST(:attempt AS integer), CAST(:status AS text),
           CAST(:smtp_code AS integer), CAST(:detail AS text),
           CAST(:duration_ms AS double precision), CAST(:at AS timestamptz)
      FROM settled
    """
)


async def finish(
    connection: AsyncConnection,
    claim: Claim,
    status: str,
    at: datetime,
    *,
    message_id: str | None = None,
    smtp_code: int | None = None,
    detail: str | None = None,
    duration_ms: float | None = None,
    outcome_published: bool = False,
) -> None:
    """Settle a claimed event and log the attempt, in one statement of the claim's
    transaction."""
    await connection.execute(
        _FINISH,
        {
            "event_id": claim.event_id,
            "status": status,
            "message_id": message_id,
            "detail": (detail or None) and detail[:2000],
            "at": at,
            "attempt": claim.attempt,
            "published_at": utc_now() if outcome_published else None,
            "smtp_code": smtp_code,
            "duration_ms": duration_ms,
        },
    )


async def log_attempt(
    connection: AsyncConnection,
    event_id: str,
    attempt: int,
    outcome: str,
    smtp_code: int | None,
    detail: str | None,
    duration_ms: float | None,
    at: datetime | None = None,
) -> None:
    await connection.execute(
        delivery_log.insert().values(
            event_id=event_id,
            attempt=attempt,
            outcome=outcome,
            smtp_code=smtp_code,
            detail=(detail or None) and detail[:2000],
            duration_ms=duration_ms,
            at=at or utc_now(),
        )
    )


async def find(connection: AsyncConnection, event_id: str) -> Processed | None:
    row = (
        await connection.execute(
            sa.select(processed_events).where(processed_events.c.event_id == event_id)
        )
    ).first()
    if row is None:
        return None
    return Processed(
        event_id=row.event_id,
        notification_id=row.notification_id,
        user_id=row.user_id,
        status=row.status,
        recipient=row.recipient,
        attempts=row.attempts,
        detail=row.detail,
        processed_at=row.processed_at,
        outcome_published=row.outcome_published_at is not None,
    )


async def mark_outcome_published(engine: AsyncEngine, event_id: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            processed_events.update()
            .where(processed_events.c.event_id == event_id)
            .values(outcome_published_at=utc_now())
        )


async def record_retry(
    engine: AsyncEngine,
    event_id: str,
    attempt: int,
    smtp_code: int | None,
    detail: str,
    duration_ms: float | None,
) -> None:
    async with engine.begin() as connection:
        await log_attempt(connection, event_id, attempt, "retry", smtp_code, detail, duration_ms)
