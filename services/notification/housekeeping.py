"""Housekeeping the API process does in the background: expired idempotency keys are deleted
every `IDEMPOTENCY_PURGE_INTERVAL_S`. Every API process runs it; the deletes are idempotent."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.notification.app import AppContext

logger = logging.getLogger(__name__)


async def purge_idempotency_keys(context: AppContext) -> None:
    """Purge now, then every interval, until cancelled. A failed purge is logged and retried
    at the next interval."""
    interval = context.settings.idempotency_purge_interval_s
    while True:
        try:
            purged = await context.service.purge_expired_idempotency_keys()
        except Exception:
            logger.exception("idempotency key purge failed; retrying in %.0f s", interval)
        else:
            if purged:
                logger.info("purged %d expired idempotency keys", purged)
        await asyncio.sleep(interval)
