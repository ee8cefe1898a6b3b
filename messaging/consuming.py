"""The one place where a consumer's outcome becomes ack, retry or dead-letter.

A handler returns normally when the message was handled (the message is acked), raises
`RetryLater` for a transient failure (the message is re-published to the consumer's retry
queue for the next delay, then acked), or raises `PermanentFailure` (the message goes to the
consumer's dead-letter queue with the reason in its headers, then is acked). Any other
exception counts as transient. Every re-publish is confirmed before the original is acked, so
a crash in between re-delivers rather than loses.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from contracts.topology import Topology
from messaging.publisher import publish_confirmed
from messaging.topology import ConsumerSpec

logger = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-tocsin-attempt"
REASON_HEADER = "x-tocsin-reason"
DETAIL_HEADER = "x-tocsin-detail"
FIRST_FAILED_HEADER = "x-tocsin-first-failed-at"


class PermanentFailure(Exception):
    """Retrying cannot help (bad input, 5xx SMTP reply, 410 Gone...). `reason` is a stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class RetryLater(Exception):
    """A transient failure. `retry_after_ms`, when set, overrides the next scheduled delay
    (the closest retry queue not shorter than it is used)."""

    def __init__(self, reason: str, detail: str = "", retry_after_ms: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.retry_after_ms = retry_after_ms


class Outcome:
    ACKED = "acked"
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"


Handler = Callable[[AbstractIncomingMessage, int], Awaitable[None]]
"""A handler gets the message and its attempt number (1 for the first delivery)."""

OutcomeListener = Callable[[str, AbstractIncomingMessage, str | None], None]
"""Told each message's `Outcome` and, for a retry or a dead letter, its reason (metrics)."""


def attempt_of(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get(ATTEMPT_HEADER, 1)
    return value if isinstance(value, int) and value >= 1 else 1


@dataclass
class RetryingConsumer:
    """Runs a handler on every message of one consumer queue under the retry policy."""

    channel: AbstractChannel
    topology: Topology
    spec: ConsumerSpec
    handler: Handler
    on_outcome: OutcomeListener | None = None
    _running: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        """Handle one message. When the broker connection drops, aio-pika cancels the callback
        of every in-flight message; the handling itself is shielded from that cancellation, so
        an external effect already under way (an HTTP POST, an SMTP send) is finished and
        recorded by the handler instead of being cut off unrecorded and repeated when the
        broker redelivers the unacked message. The ack is then lost with the channel: the
        redelivered copy finds the work recorded (handlers are idempotent by event id)."""
        task = asyncio.ensure_future(self._process(message))
        self._running.add(task)
        task.add_done_callback(self._settled)
        await asyncio.shield(task)

    async def settled(self, timeout: float) -> bool:
        """Wait, at most `timeout` seconds, until every message under way has its outcome
        (acked, retried or dead-lettered); False when some were still running."""
        running = set(self._running)
        if not running:
            return True
        _, pending = await asyncio.wait(running, timeout=timeout)
        return not pending

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.warning(
                "message outcome not settled (channel lost?); the broker redelivers it",
                extra={"error": repr(error)},
            )

    async def _process(self, message: AbstractIncomingMessage) -> None:
        attempt = attempt_of(message)
        try:
            await self.handler(message, attempt)
        except PermanentFailure as failure:
            await self._dead_letter(message, attempt, failure.reason, failure.detail)
            self._report(Outcome.DEAD_LETTERED, message, failure.reason)
            return
        except RetryLater as failure:
            await self._retry_or_dead_letter(
                message, attempt, failure.reason, failure.detail, failure.retry_after_ms
            )
            return
        except Exception as exc:  # a bug or an outage we did not classify: retry, never crash
            logger.exception("handler failed", extra={"message_id": message.message_id})
            await self._retry_or_dead_letter(message, attempt, "unexpected_error", repr(exc), None)
            return
        await message.ack()
        self._report(Outcome.ACKED, message, None)

    async def _retry_or_dead_letter(
        self,
        message: AbstractIncomingMessage,
        attempt: int,
        reason: str,
        detail: str,
        retry_after_ms: int | None,
    ) -> None:
        delays = list(self.spec.retry_delays_ms)
        if attempt > len(delays):
            await self._dead_letter(message, attempt, "retries_exhausted", f"{reason}: {detail}")
            self._report(Outcome.DEAD_LETTERED, message, "retries_exhausted")
            return
        delay = delays[attempt - 1]
        if retry_after_ms is not None:
            delay = next((d for d in delays if d >= retry_after_ms), delays[-1])
        headers = dict(message.headers or {})
        headers[ATTEMPT_HEADER] = attempt + 1
        headers[REASON_HEADER] = reason
        headers[DETAIL_HEADER] = detail[:500]
        retry = _copy(message, headers)
        if self.spec.retry_jitter > 0:
            retry.expiration = delay * (1 - random.uniform(0, self.spec.retry_jitter)) / 1000
        await publish_confirmed(
            self.channel.default_exchange,
            retry,
            self.topology.retry_queue(self.spec.name, delay),
            mandatory=False,
        )
        await message.ack()
        logger.info(
            "delivery retry scheduled",
            extra={
                "message_id": message.message_id,
                "attempt": attempt,
                "delay_ms": delay,
                "reason": reason,
            },
        )
        self._report(Outcome.RETRIED, message, reason)

    async def _dead_letter(
        self, message: AbstractIncomingMessage, attempt: int, reason: str, detail: str
    ) -> None:
        headers = dict(message.headers or {})
        headers[ATTEMPT_HEADER] = attempt
        headers[REASON_HEADER] = reason
        headers[DETAIL_HEADER] = detail[:500]
        await publish_confirmed(
            self.channel.default_exchange,
            _copy(message, headers),
            self.topology.dead_letter_queue(self.spec.name),
            mandatory=False,
        )
        await message.ack()
        logger.warning(
            "message dead-lettered",
            extra={"message_id": message.message_id, "reason": reason, "detail": detail[:500]},
        )

    def _report(self, outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome, message, reason)


def _copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    return aio_pika.Message(
        body=message.body,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp,
        correlation_id=message.correlation_id,
        headers=headers,
    )
