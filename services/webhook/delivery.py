"""Delivering one event to every endpoint that should get it: the consumer's service layer.

`Deliverer.handle` is called for every attempt of a queue message. Each pending (event,
endpoint) delivery is locked in its own transaction for the duration of its HTTP attempt, and
the attempt, the delivery's new state and the endpoint's health are written in that same
transaction; so two copies of the consumer never send the same delivery at once, a delivery
that succeeded is never sent again, and a consumer killed mid-request releases its lock (the
retried message sends again, with the same `webhook-id`).

Per attempt: 2xx succeeds; 410 fails and disables the endpoint; 429, 5xx, timeouts and
connection errors are retried on the schedule (never sooner than a `Retry-After`); a refused
address, a redirect or another 4xx fails that endpoint for good. When deliveries are still
pending after an attempt, `RetryLater` sends the message round the retry queues again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import EventEnvelope, EventType
from identity.rate_limit import Rate, TokenBuckets
from messaging.consuming import RetryLater
from services.webhook import ledger
from services.webhook.http import HttpResult, post
from services.webhook.metrics import Metrics
from services.webhook.payload import notification_id_of, payload, wants
from services.webhook.signing import signed_headers

logger = logging.getLogger(__name__)

OutcomePublisher = Callable[[EventEnvelope, ledger.FinishedDelivery], Awaitable[None]]


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_s: float
    max_response_bytes: int
    retry_delays_ms: Sequence[int]
    retry_jitter: float
    disable_after: timedelta


@dataclass(frozen=True)
class Verdict:
    """What an attempt means for its delivery: `status` pending (retry) or final."""

    status: str
    error: str | None
    disable_reason: str | None = None


def judge(result: HttpResult) -> Verdict:
    code = result.status_code
    if code is None:
        if result.blocked:
            return Verdict(ledger.FAILED, result.error)
        return Verdict(ledger.PENDING, result.error)
    if 200 <= code < 300:
        return Verdict(ledger.SUCCEEDED, None)
    if code == 410:
        return Verdict(ledger.FAILED, "HTTP 410 Gone", disable_reason="endpoint answered 410 Gone")
    if code == 429 or code == 408 or code >= 500:
        return Verdict(ledger.PENDING, f"HTTP {code}")
    if 300 <= code < 400:
        return Verdict(ledger.FAILED, f"HTTP {code}: redirects are not followed")
    return Verdict(ledger.FAILED, f"HTTP {code}")


@dataclass(frozen=True)
class Step:
    """The result of one delivery step: `wait_s` before the next attempt while pending, or
    the `finished` delivery (None for both when another run already finished it)."""

    wait_s: float | None = None
    finished: ledger.FinishedDelivery | None = None


class Deliverer:
    def __init__(
        self,
        engine: AsyncEngine,
        client: httpx.AsyncClient,
        policy: DeliveryPolicy,
        metrics: Metrics,
        publish_outcome: OutcomePublisher,
        max_concurrency: int,
        endpoint_rate: Rate = Rate(0, 1),
    ) -> None:
        """`endpoint_rate` spaces the attempts to each endpoint (0 per second: no limit)."""
        self.engine = engine
        self.client = client
        self.policy = policy
        self.metrics = metrics
        self.publish_outcome = publish_outcome
        self._slots = asyncio.Semaphore(max_concurrency)
        self._pacing = TokenBuckets(endpoint_rate) if endpoint_rate.enabled else None

    async def handle(self, envelope: EventEnvelope, attempt: int, force: bool = False) -> None:
        """Deliver `envelope` to its pending endpoints. Raises RetryLater when some are still
        pending; on the last message attempt a transient failure becomes final instead.
        `force` (an operator's forced replay) first makes finished deliveries to enabled
        endpoints pending again."""
        if not wants(envelope):
            return
        final = attempt > len(self.policy.retry_delays_ms)
        planned = await ledger.plan(
            self.engine,
            envelope.event_id,
            envelope.type.value,
            envelope.user_id,
            notification_id_of(envelope),
        )
        fresh = planned is not None and not force
        if force:
            await ledger.reopen(self.engine, envelope.event_id)
        if planned is not None and fresh:
            pending = planned
        else:
            pending = await ledger.pending_endpoints(self.engine, envelope.event_id)
        scheduled_s = 0.0 if final else self.policy.retry_delays_ms[attempt - 1] / 1000
        results = await asyncio.gather(
            *(self._deliver(envelope, endpoint, final, scheduled_s) for endpoint in pending),
            return_exceptions=True,
        )
        steps = [result for result in results if isinstance(result, Step)]
        # A fresh event's outcomes can only come from this run; otherwise a crash may have
        # left finished deliveries whose outcome was never published.
        finished = [step.finished for step in steps if step.finished is not None]
        await self._publish_outcomes(envelope, finished, look_back=not fresh)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # a database or programming error: the message is retried
        remaining = [step.wait_s for step in steps if step.wait_s is not None]
        if remaining:
            raise RetryLater(
                "endpoints_pending",
                f"{len(remaining)} of {len(pending)} endpoints not delivered yet",
                retry_after_ms=int(min(remaining) * 1000),
            )

    async def _deliver(
        self, envelope: EventEnvelope, endpoint_id: str, final: bool, scheduled_s: float
    ) -> Step:
        """One delivery attempt to one endpoint, in its own transaction."""
        event_id = envelope.event_id
        await self._pace(endpoint_id)
        async with self._slots, self.engine.connect() as conn, conn.begin():
            target = await ledger.lock_target(conn, event_id, endpoint_id)
            if target is None:
                if await ledger.exists_pending(conn, event_id, endpoint_id):
                    return Step(wait_s=scheduled_s or 1.0)  # another consumer is sending it
                return Step()
            if not target.enabled:
                error = "endpoint disabled"
                await ledger.update_delivery(
                    conn,
                    event_id,
                    endpoint_id,
                    status=ledger.FAILED,
                    attempts=target.attempts,
                    last_error=error,
                )
                self.metrics.deliveries.labels(ledger.FAILED).inc()
                return Step(finished=self._finished(envelope, target, ledger.FAILED, error))
            now = datetime.now(UTC)
            if not final and target.next_attempt_at is not None and target.next_attempt_at > now:
                return Step(wait_s=(target.next_attempt_at - now).total_seconds())
            return await self._attempt(conn, envelope, target, final, scheduled_s)

    async def _pace(self, endpoint_id: str) -> None:
        """Wait for the endpoint's next delivery slot: over its rate an attempt is delayed,
        never dropped. The wait happens before a concurrency slot or a database connection is
        taken, and it is bounded: only prefetched (unacked) messages can hold reservations."""
        if self._pacing is None:
            return
        wait = self._pacing.reserve(endpoint_id)
        if wait > 0:
            self.metrics.paced.inc()
            self.metrics.paced_seconds.inc(wait)
            await asyncio.sleep(wait)

    @staticmethod
    def _finished(
        envelope: EventEnvelope,
        target: ledger.Target,
        status: str,
        error: str | None,
        attempts: int | None = None,
    ) -> ledger.FinishedDelivery:
        return ledger.FinishedDelivery(
            endpoint_id=target.endpoint_id,
            status=status,
            attempts=target.attempts if attempts is None else attempts,
            last_error=error,
            notification_id=notification_id_of(envelope),
        )

    async def _attempt(
        self,
        conn: AsyncConnection,
        envelope: EventEnvelope,
        target: ledger.Target,
        final: bool,
        scheduled_s: float,
    ) -> Step:
        body = payload(envelope)
        started = datetime.now(UTC)
        headers = signed_headers(target.secrets, envelope.event_id, int(time.time()), body)
        result = await post(
            self.client,
            target.url,
            body,
            headers,
            timeout_s=self.policy.timeout_s,
            max_response_bytes=self.policy.max_response_bytes,
        )
        verdict = judge(result)
        number = target.attempts + 1
        status, error = verdict.status, verdict.error
        if status == ledger.PENDING and final:
            status, error = ledger.FAILED, f"retries exhausted: {error}"
        wait: float | None = None
        next_at: datetime | None = None
        if status == ledger.SUCCEEDED:
            if target.failing_since is not None:
                await ledger.endpoint_succeeded(conn, target.endpoint_id)
        elif verdict.disable_reason is not None:
            await ledger.disable_endpoint(conn, target.endpoint_id, verdict.disable_reason)
        else:
            disabled = await ledger.endpoint_failed(
                conn, target.endpoint_id, self.policy.disable_after
            )
            if disabled and status == ledger.PENDING:
                status, error = ledger.FAILED, f"endpoint disabled after failing: {error}"
        if status == ledger.PENDING:
            # Jitter may bring the message back a little early: tolerate that for the
            # schedule, never for the receiver's Retry-After.
            retry_after = result.retry_after_s or 0.0
            wait = max(scheduled_s, retry_after)
            earliest = max(scheduled_s * (1 - self.policy.retry_jitter), retry_after)
            next_at = started + timedelta(seconds=result.duration_ms / 1000 + earliest)
        await ledger.record_attempt(
            conn,
            envelope.event_id,
            target.endpoint_id,
            status=status,
            attempts=number,
            last_error=error,
            next_attempt_at=next_at,
            attempt={
                "attempt": number,
                "result": "retry" if status == ledger.PENDING else status,
                "status_code": result.status_code,
                "duration_ms": result.duration_ms,
                "error": result.error or verdict.error,
                "response_excerpt": result.excerpt,
                "at": started,
            },
        )
        self._observe(envelope, target, result, status, error, number)
        if status == ledger.PENDING:
            return Step(wait_s=wait)
        return Step(finished=self._finished(envelope, target, status, error, number))

    def _observe(
        self,
        envelope: EventEnvelope,
        target: ledger.Target,
        result: HttpResult,
        status: str,
        error: str | None,
        number: int,
    ) -> None:
        self.metrics.attempts.labels("retry" if status == ledger.PENDING else status).inc()
        self.metrics.latency.observe(result.duration_ms / 1000)
        if status != ledger.PENDING:
            self.metrics.deliveries.labels(status).inc()
        if status == ledger.SUCCEEDED:
            age = (datetime.now(UTC) - envelope.occurred_at).total_seconds()
            self.metrics.end_to_end.observe(max(0.0, age))
        log = logger.info if status == ledger.SUCCEEDED else logger.warning
        log(
            "webhook attempt %s",
            status,
            extra={
                "event_id": envelope.event_id,
                "user_id": envelope.user_id,
                "endpoint_id": target.endpoint_id,
                "attempt": number,
                "status_code": result.status_code,
                "error": error,
            },
        )

    async def _publish_outcomes(
        self, envelope: EventEnvelope, finished: list[ledger.FinishedDelivery], look_back: bool
    ) -> None:
        """Publish the outcome of every finished delivery whose outcome is not out yet, then
        remember that it is. Raises PublishNotConfirmed (the message is retried)."""
        if envelope.type != EventType.NOTIFICATION_CREATED:
            return
        outcomes = {f.endpoint_id: f for f in finished}
        if look_back:
            for earlier in await ledger.unpublished_outcomes(self.engine, envelope.event_id):
                outcomes.setdefault(earlier.endpoint_id, earlier)
        if not outcomes:
            return
        for outcome in outcomes.values():
            await self.publish_outcome(envelope, outcome)
        await ledger.mark_published(self.engine, envelope.event_id, list(outcomes))
