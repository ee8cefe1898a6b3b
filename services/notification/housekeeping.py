"""Housekeeping the API process does in the background: expired idempotency keys are deleted
every `IDEMPOTENCY_PURGE_INTERVAL_S`. Every API process runs it; the deletes are idempotent."""

from __future__ import annotations

import asyncio
import logging

from services.notification.service import NotificationService

logger = logging.getLogger(__name__)


async def purge_idempotency_keys(service: NotificationService, interval_s: float) -> None:
    """Purge now, then every `interval_s`, until cancelled. A failed purge is logged and
    retried at the next interval."""
    while True:
        try:
            purged = await service.purge_expired_idempotency_keys()
        except Exception:
            logger.exception("idempotency key purge failed; retrying in %.0f s", interval_s)
        else:
            if purged:
                logger.info("purged %d expired idempotency keys", purged)
        await asyncio.sleep(interval_s)
