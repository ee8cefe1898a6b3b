"""The AMQP edge of the push service: queue `<ns>.push`, and what each event means.

`notification.created` (with `push` among its channels) becomes a waiting push, due when the
policy says; `notification.read`, `read_all` and `deleted` cancel a waiting one. A body that
is not an event is dead-lettered (`invalid_event`); database trouble is retried through the
retry queues (`messaging.consumers.QueueConsumer` connects and reconnects;
`messaging.consuming.RetryingConsumer` owns ack, retry and dead-letter).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import (
    EventEnvelope,
    EventType,
    NotificationCreated,
    NotificationDeleted,
    NotificationRead,
    NotificationsReadAll,
    event_from_json,
)
from contracts.headers import is_forced
from contracts.notifications import Channel
from contracts.push import PUSH_CONSUMER, PUSH_EVENT_TYPES
from contracts.topology import Topology, binding_for_type
from messaging.consuming import PermanentFailure
from messaging.topology import ConsumerSpec
from observability.tracing import trace_from_headers, use_trace
from services.push import schedule
from services.push.metrics import Metrics
from services.push.policy import PushPolicy
from services.push.presence import PresenceLookup
from services.push.sender import Sender
from services.push.settings import DEFAULT_RETRY_DELAYS_MS

logger = logging.getLogger(__name__)


def consumer_spec(
    topology: Topology,
    retry_delays_ms: Sequence[int] = DEFAULT_RETRY_DELAYS_MS,
    delivery_limit: int = 20,
    prefetch: int = 32,
) -> ConsumerSpec:
    """Queue `<ns>.push`, bound to created, read, read_all and deleted events."""
    return ConsumerSpec(
        name=PUSH_CONSUMER,
        exchange=topology.events_exchange,
        bindings=[binding_for_type(t.value) for t in PUSH_EVENT_TYPES],
        retry_delays_ms=tuple(retry_delays_ms),
        delivery_limit=delivery_limit,
        prefetch=prefetch,
    )


class PushConsumer:
    """The handler `messaging.consumers.QueueConsumer` runs on every message of `<ns>.push`
    (`handle`), and its outcome counter (`count`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        policy: PushPolicy,
        presence: PresenceLookup,
        sender: Sender,
        metrics: Metrics,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.presence = presence
        self.sender = sender
        self.metrics = metrics

    async def handle(self, message: AbstractIncomingMessage, attempt: int) -> None:
        with use_trace(trace_from_headers(message.headers)):
            try:
                envelope = event_from_json(message.body)
                if envelope.type is EventType.NOTIFICATION_CREATED:
                    created = envelope.data_as(NotificationCreated)
                    await self.created(envelope, created, is_forced(dict(message.headers or {})))
                elif envelope.type is EventType.NOTIFICATION_READ:
                    await self.cancel(envelope, [envelope.data_as(NotificationRead).id])
                elif envelope.type is EventType.NOTIFICATION_DELETED:
                    await self.cancel(envelope, [envelope.data_as(NotificationDeleted).id])
                elif envelope.type is EventType.NOTIFICATION_READ_ALL:
                    await self.cancel(envelope, envelope.data_as(NotificationsReadAll).ids)
            except ValidationError as exc:
                raise PermanentFailure("invalid_event", str(exc)[:500]) from exc

    async def created(
        self, envelope: EventEnvelope, created: NotificationCreated, force: bool
    ) -> None:
        notification = created.notification
        wanted = Channel.PUSH in created.channels
        delay = self.policy.delay_for(notification)
        online = None
        if wanted and delay:
            online = (await self.presence.online([envelope.user_id]) or {}).get(envelope.user_id)
        now = datetime.now(UTC)
        due = self.policy.due_at(notification, online, now)
        async with self.engine.begin() as conn:
            if not await schedule.first_sight(conn, envelope) and not force:
                return
            if not wanted:
                self.metrics.scheduled.labels("off").inc()
                return
            if due is None:
                self.metrics.scheduled.labels("never").inc()
                return
            waiting = await schedule.schedule(conn, envelope, notification, due, force=force)
        if waiting:
            self.metrics.scheduled.labels("now" if due <= now else "delayed").inc()
            logger.info(
                "push scheduled",
                extra={
                    "event_id": envelope.event_id,
                    "user_id": envelope.user_id,
                    "due_at": due.isoformat(),
                    "online": online,
                },
            )
            if due <= now:
                self.sender.wake()

    async def cancel(self, envelope: EventEnvelope, notification_ids: list[str]) -> None:
        async with self.engine.begin() as conn:
            if not await schedule.first_sight(conn, envelope):
                return
            cancelled = await schedule.cancel(
                conn, envelope.user_id, notification_ids, envelope.type.value
            )
        if cancelled:
            self.metrics.cancelled.inc(cancelled)
            logger.info(
                "waiting push cancelled",
                extra={"event_id": envelope.event_id, "user_id": envelope.user_id},
            )

    def count(self, outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
        self.metrics.messages.labels(outcome, reason or "").inc()
