"""Forgetting old delivery history, so the `webhook` schema does not grow without bound.

Attempts, finished deliveries and events older than the retention period are deleted in small
batches; pending deliveries are never touched. The idempotency of a redelivered or replayed
event is therefore guaranteed within the retention period (30 days by default), far longer
than a message can stay in the queue and its retries (about 27.5 hours).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from database.batches import delete_in_batches
from services.webhook import tables

logger = logging.getLogger(__name__)


async def prune(engine: AsyncEngine, before: datetime) -> dict[str, int]:
    """Delete history older than `before`; returns how many rows of each table went."""
    a, d, e = tables.attempts, tables.deliveries, tables.events
    attempts = await delete_in_batches(engine, a, a.c.at < before)
    deliveries = await delete_in_batches(
        engine, d, sa.and_(d.c.status != "pending", d.c.completed_at < before)
    )
    unreferenced = ~sa.exists().where(d.c.event_id == e.c.event_id)
    events = await delete_in_batches(engine, e, sa.and_(e.c.received_at < before, unreferenced))
    return {"attempts": attempts, "deliveries": deliveries, "events": events}


async def prune_forever(engine: AsyncEngine, retention: timedelta, interval_s: float) -> None:
    """Prune now and then every `interval_s` until cancelled; failures are logged, not fatal."""
    while True:
        try:
            removed = await prune(engine, datetime.now(UTC) - retention)
            if any(removed.values()):
                logger.info("pruned webhook history", extra=removed)
        except Exception:
            logger.warning("pruning webhook history failed", exc_info=True)
        await asyncio.sleep(interval_s)
