"""Forgetting old push history, so the `push` schema does not grow without bound.

Seen events, finished pushes (sent, failed, cancelled) and finished sends whose outcome went
out, older than the retention period, are deleted in batches; waiting pushes and sends still
pending or unpublished are never touched. Idempotency by event id therefore holds within the
retention period (30 days by default).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from database.batches import delete_in_batches
from services.push import tables

logger = logging.getLogger(__name__)


async def prune(engine: AsyncEngine, before: datetime) -> dict[str, int]:
    """Delete history older than `before`; returns how many rows of each table went."""
    e, p, s = tables.events, tables.pushes, tables.sends
    events = await delete_in_batches(engine, e, e.c.received_at < before)
    pushes = await delete_in_batches(
        engine,
        p,
        sa.and_(p.c.state != "waiting", sa.func.coalesce(p.c.finished_at, p.c.created_at) < before),
    )
    sends = await delete_in_batches(
        engine,
        s,
        sa.and_(s.c.status != "pending", s.c.outcome_published.is_(True), s.c.updated_at < before),
    )
    return {"events": events, "pushes": pushes, "sends": sends}


async def prune_forever(engine: AsyncEngine, retention: timedelta, interval_s: float) -> None:
    """Prune now and then every `interval_s` until cancelled; failures are logged, not fatal."""
    while True:
        try:
            removed = await prune(engine, datetime.now(UTC) - retention)
            if any(removed.values()):
                logger.info("pruned push history", extra=removed)
        except Exception:
            logger.warning("pruning push history failed", exc_info=True)
        await asyncio.sleep(interval_s)
