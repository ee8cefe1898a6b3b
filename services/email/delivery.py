"""The email consumer's service layer: one `notification.created` event → at most one email.

Order of work for an event, inside one Postgres transaction: claim the event (the claim makes
a concurrent duplicate wait), send through SMTP, publish `delivery.succeeded` /
`delivery.failed` with a confirm, record the outcome (and whether its publish was confirmed),
commit. A crash after the SMTP server accepted the mail and before the commit sends the mail
again on redelivery, with the same Message-ID (derived from the event id), so the receiver
can recognise the duplicate; the outcome is published again with the same event id, which the
notification service drops. If the outcome could not be published, the delivery is still
recorded and the message is retried: the retry finds the event processed and publishes the
pending outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import EventEnvelope, EventType, NotificationCreated, utc_now
from contracts.notifications import Channel
from services.email import store
from services.email.composition import Composer, InvalidAddress
from services.email.metrics import EmailMetrics
from services.email.outcomes import OutcomePublisher
from services.email.rendering import TemplateFailure
from services.email.smtp import SmtpPermanent, SmtpPool, SmtpTransient
from services.email.store import Claim, Status

logger = logging.getLogger(__name__)


class Deferred(Exception):
    """Delivery failed for now; retrying may succeed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Rejected(Exception):
    """Delivery can never succeed (bad event, bad address, 5xx reply)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Settled:
    """How a claimed delivery ended within its transaction."""

    status: str
    reason: str
    detail: str | None
    at: datetime
    duration_ms: float
    smtp_code: int | None = None
    message_id: str | None = None
    outcome_published: bool = False


class Result:
    SENT = "sent"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass
class EmailDelivery:
    engine: AsyncEngine
    composer: Composer
    smtp: SmtpPool
    outcomes: OutcomePublisher
    metrics: EmailMetrics
    max_attempts: int
    in_flight: int = 4
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.in_flight)

    async def deliver(self, envelope: EventEnvelope, attempt: int, *, force: bool = False) -> str:
        """Handle one event. Returns a Result; raises Deferred (retry) or Rejected (give up).
        `force` delivers again an event that was already delivered (operator's replay)."""
        if envelope.type is not EventType.NOTIFICATION_CREATED:
            self.metrics.deliveries.labels(Result.IGNORED).inc()
            return Result.IGNORED
        try:
            created = envelope.data_as(NotificationCreated)
        except ValidationError as exc:
            raise Rejected("invalid_event", str(exc)[:500]) from exc
        claim = Claim(
            event_id=envelope.event_id,
            notification_id=created.notification.id,
            user_id=envelope.user_id,
            notification_type=created.notification.type,
            recipient=created.recipient.email,
            attempt=attempt,
        )
        if Channel.EMAIL not in created.channels or not created.recipient.email:
            return await self._skip(claim)
        settled: Settled | None = None
        async with self._slots:
            started = time.perf_counter()
            try:
                async with self.engine.begin() as connection:
                    existing = await store.claim(connection, claim, force=force)
                    if existing is None:
                        settled = await self._send(claim, envelope, created)
                        await self._settle(connection, claim, settled)
            except SmtpTransient as exc:  # the claim was rolled back: the event stays open
                await self._defer(claim, exc, (time.perf_counter() - started) * 1000)
        log = {"event_id": envelope.event_id, "user_id": envelope.user_id, "attempt": attempt}
        if existing is not None:
            await self._publish_pending(existing)
            self.metrics.deliveries.labels(Result.DUPLICATE).inc()
            logger.info("duplicate event not sent again", extra={**log, "status": existing.status})
            return Result.DUPLICATE
        assert settled is not None
        if settled.status == Status.FAILED:
            self.metrics.deliveries.labels(Status.FAILED).inc()
            logger.warning("email refused", extra={**log, "detail": settled.detail})
            raise Rejected(settled.reason, settled.detail or "")
        self.metrics.send_seconds.observe(settled.duration_ms / 1000)
        lag = (utc_now() - envelope.occurred_at).total_seconds()
        self.metrics.lag_seconds.observe(max(lag, 0.0))
        self.metrics.deliveries.labels(Status.SENT).inc()
        logger.info("email sent", extra=log)
        if not settled.outcome_published:
            raise Deferred("outcome_unpublished", "delivery.succeeded not confirmed by the broker")
        return Result.SENT

    async def _send(
        self, claim: Claim, envelope: EventEnvelope, created: NotificationCreated
    ) -> Settled:
        """Compose and send; SmtpTransient propagates (and rolls the claim back)."""
        try:
            message = self.composer.compose(envelope, created.notification, created.recipient)
        except (InvalidAddress, TemplateFailure) as exc:
            return Settled(Status.FAILED, "unsendable", str(exc), utc_now(), 0.0)
        started = time.perf_counter()
        try:
            await self.smtp.send(message)
        except SmtpPermanent as exc:
            duration = (time.perf_counter() - started) * 1000
            return Settled(
                Status.FAILED, "smtp_rejected", str(exc), utc_now(), duration, smtp_code=exc.code
            )
        duration = (time.perf_counter() - started) * 1000
        return Settled(
            Status.SENT, "sent", None, utc_now(), duration, message_id=message.message_id
        )

    async def _settle(self, connection: AsyncConnection, claim: Claim, settled: Settled) -> None:
        """Publish the outcome (confirmed or not) and record it in the claim's transaction."""
        settled.outcome_published = await self._try_publish(
            claim, succeeded=settled.status == Status.SENT, detail=settled.detail, at=settled.at
        )
        await store.finish(
            connection,
            claim,
            settled.status,
            settled.at,
            message_id=settled.message_id,
            smtp_code=settled.smtp_code,
            detail=settled.detail,
            duration_ms=settled.duration_ms,
            outcome_published=settled.outcome_published,
        )

    async def _defer(self, claim: Claim, exc: SmtpTransient, duration_ms: float) -> None:
        """Log the failed attempt; on the last attempt record the delivery as failed. Raises
        Deferred either way (the retry policy dead-letters after the last attempt)."""
        await store.record_retry(
            self.engine, claim.event_id, claim.attempt, exc.code, str(exc), duration_ms
        )
        logger.info(
            "email deferred",
            extra={"event_id": claim.event_id, "user_id": claim.user_id, "detail": str(exc)},
        )
        if claim.attempt >= self.max_attempts:
            await self._give_up(claim, str(exc), exc.code, duration_ms)
        raise Deferred("smtp_unavailable", str(exc))

    async def _skip(self, claim: Claim) -> str:
        async with self.engine.begin() as connection:
            existing = await store.claim(connection, claim)
            if existing is None:
                await store.finish(
                    connection, claim, Status.SKIPPED, utc_now(), detail="email not requested"
                )
        result = Result.SKIPPED if existing is None else Result.DUPLICATE
        self.metrics.deliveries.labels(result).inc()
        return result

    async def _give_up(
        self, claim: Claim, detail: str, smtp_code: int | None, duration: float
    ) -> None:
        """The last attempt failed transiently: record the delivery as failed and say so."""
        async with self.engine.begin() as connection:
            existing = await store.claim(connection, claim)
            if existing is not None:
                return
            settled = Settled(
                Status.FAILED,
                "retries_exhausted",
                f"retries exhausted: {detail}",
                utc_now(),
                duration,
                smtp_code=smtp_code,
            )
            await self._settle(connection, claim, settled)
        self.metrics.deliveries.labels(Status.FAILED).inc()

    async def _try_publish(
        self, claim: Claim, *, succeeded: bool, detail: str | None, at: datetime
    ) -> bool:
        """Publish the outcome; False (logged) when the broker did not confirm it."""
        try:
            await self.outcomes.publish(
                succeeded=succeeded,
                source_event_id=claim.event_id,
                notification_id=claim.notification_id,
                user_id=claim.user_id,
                attempts=claim.attempt,
                detail=detail,
                target=claim.recipient,
                at=at,
            )
        except Exception:
            logger.warning(
                "delivery outcome not published; it will be on the retry",
                exc_info=True,
                extra={"event_id": claim.event_id, "user_id": claim.user_id},
            )
            return False
        return True

    async def _publish_pending(self, existing: store.Processed) -> None:
        """A redelivered event whose outcome may not have reached the broker: publish it now."""
        if existing.outcome_published or existing.status not in (Status.SENT, Status.FAILED):
            return
        claim = Claim(
            event_id=existing.event_id,
            notification_id=existing.notification_id,
            user_id=existing.user_id,
            notification_type="",
            recipient=existing.recipient,
            attempt=existing.attempts,
        )
        await self.outcomes.publish(
            succeeded=existing.status == Status.SENT,
            source_event_id=claim.event_id,
            notification_id=claim.notification_id,
            user_id=claim.user_id,
            attempts=claim.attempt,
            detail=existing.detail,
            target=claim.recipient,
            at=existing.processed_at,
        )
        await store.mark_outcome_published(self.engine, claim.event_id)
