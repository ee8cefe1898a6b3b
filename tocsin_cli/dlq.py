"""`tocsin dlq`: look at, move back, or drop a consumer's dead-lettered messages.

Messages are read with basic.get without ack, so listing changes nothing: what is not acted
on is returned to the dead-letter queue (nack with requeue) before the command ends. Requeue
publishes a copy to the consumer's queue with the attempt count reset, waits for the
broker's confirm, and only then acks the dead-letter copy: a crash in between leaves a
duplicate (consumers are idempotent by event_id), never a loss.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from contracts.headers import ATTEMPT_HEADER, DETAIL_HEADER, REASON_HEADER
from messaging.publisher import publish_confirmed
from tocsin_cli import registry
from tocsin_cli.connections import broker, existing_queue
from tocsin_cli.errors import CliError
from tocsin_cli.settings import CliSettings

REQUEUED_HEADER = "x-tocsin-requeued-from-dlq"
LAST_REASON_HEADER = "x-tocsin-last-reason"
_BROKER_DEATH_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    type: str | None
    reason: str
    detail: str
    attempts: int
    timestamp: datetime | None
    headers: dict[str, Any]
    body: bytes

    @property
    def body_text(self) -> str:
        try:
            return json.dumps(json.loads(self.body), indent=2, sort_keys=True, default=str)
        except ValueError:
            return self.body.decode(errors="replace")


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers = dict(message.headers or {})
    reason, detail = _reason(headers)
    attempt = headers.get(ATTEMPT_HEADER)
    attempts = attempt if isinstance(attempt, int) else _death_count(headers)
    return DeadLetter(
        message_id=message.message_id or "?",
        type=message.type,
        reason=reason,
        detail=detail,
        attempts=attempts,
        timestamp=message.timestamp,
        headers=headers,
        body=message.body,
    )


def _reason(headers: dict[str, Any]) -> tuple[str, str]:
    """The consumer's own reason (x-tocsin-reason) or the broker's (x-death: delivery_limit,
    expired, rejected...)."""
    reason = headers.get(REASON_HEADER)
    if isinstance(reason, bytes):
        reason = reason.decode()
    detail = headers.get(DETAIL_HEADER) or ""
    if isinstance(detail, bytes):
        detail = detail.decode(errors="replace")
    if reason:
        return str(reason), str(detail)
    deaths = headers.get("x-death") or []
    if deaths and isinstance(deaths[0], dict):
        death = deaths[0]
        return f"broker:{death.get('reason', '?')}", f"from queue {death.get('queue', '?')}"
    return "unknown", str(detail)


def _death_count(headers: dict[str, Any]) -> int:
    deaths = headers.get("x-death") or []
    counts = [int(d.get("count", 0)) for d in deaths if isinstance(d, dict)]
    delivery_count = headers.get("x-delivery-count")
    return max([*counts, int(delivery_count) + 1 if isinstance(delivery_count, int) else 0, 1])


def dlq_name(settings: CliSettings, consumer: str) -> str:
    if not registry.entry(consumer).durable:
        raise CliError(f"{consumer} has no dead-letter queue (its queues are per instance)")
    return settings.topology.dead_letter_queue(consumer)


@asynccontextmanager
async def held_messages(
    settings: CliSettings, consumer: str, limit: int | None = None
) -> AsyncIterator[tuple[AbstractChannel, list[AbstractIncomingMessage]]]:
    """Every message of the consumer's DLQ (up to `limit`), held unacknowledged.

    Messages the caller neither acked nor nacked are returned to the queue on exit.
    """
    name = dlq_name(settings, consumer)
    async with broker(settings) as connection:
        channel, queue = await existing_queue(connection, name, publisher_confirms=True)
        held: list[AbstractIncomingMessage] = []
        while limit is None or len(held) < limit:
            message = await queue.get(no_ack=False, fail=False, timeout=10)
            if message is None:
                break
            held.append(message)
        try:
            yield channel, held
        finally:
            for message in held:
                if not message.processed and not channel.is_closed:
                    await message.nack(requeue=True)


async def list_dead_letters(
    settings: CliSettings, consumer: str, limit: int | None = None
) -> list[DeadLetter]:
    async with held_messages(settings, consumer, limit) as (_, messages):
        return [describe(m) for m in messages]


async def requeue(
    settings: CliSettings, consumer: str, ids: Collection[str], every: bool
) -> tuple[list[str], list[str]]:
    """Move the chosen dead letters back to the consumer's queue; returns (moved, not found)."""
    if not every and not ids:
        raise CliError("say which messages: --id EVENT_ID (repeatable) or --all")
    queue_name = settings.topology.queue(consumer)
    moved: list[str] = []
    async with broker(settings) as connection:
        await existing_queue(connection, queue_name)
    async with held_messages(settings, consumer) as (channel, messages):
        for message in messages:
            if not every and message.message_id not in ids:
                continue
            await publish_confirmed(
                channel.default_exchange, _fresh_copy(message), queue_name, mandatory=True
            )
            await message.ack()
            moved.append(message.message_id or "?")
    missing = [i for i in ids if i not in moved] if not every else []
    return moved, missing


async def purge(
    settings: CliSettings, consumer: str, ids: Collection[str]
) -> tuple[int, list[str]]:
    """Drop dead letters: the chosen ones, or all of them when `ids` is empty.

    Returns (how many were dropped, ids not found).
    """
    name = dlq_name(settings, consumer)
    if not ids:
        async with broker(settings) as connection:
            _, queue = await existing_queue(connection, name)
            result = await queue.purge()
            return int(result.message_count or 0), []
    dropped: list[str] = []
    async with held_messages(settings, consumer) as (_, messages):
        for message in messages:
            if message.message_id in ids:
                await message.ack()
                dropped.append(message.message_id or "?")
    return len(dropped), [i for i in ids if i not in dropped]


def _fresh_copy(message: AbstractIncomingMessage) -> aio_pika.Message:
    """The dead letter as a first delivery: attempt 1, the old reason kept for the record."""
    headers = {k: v for k, v in (message.headers or {}).items() if k not in _BROKER_DEATH_HEADERS}
    last_reason = headers.pop(REASON_HEADER, None)
    headers.pop(DETAIL_HEADER, None)
    headers[ATTEMPT_HEADER] = 1
    headers[REQUEUED_HEADER] = True
    if last_reason is not None:
        headers[LAST_REASON_HEADER] = last_reason
    return aio_pika.Message(
        body=message.body,
        content_type=message.content_type or "application/json",
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp,
        correlation_id=message.correlation_id,
        headers=headers,
    )
