"""The durable timers: every copy of the service claims due pushes (`FOR UPDATE SKIP LOCKED`)
and sends each to every device of its person.

One round is one transaction: claim up to `batch` due rows, send to their devices
concurrently (bounded), write each device's result (`sends`), delete devices that are gone,
then mark the push `sent`, `failed`, or waiting again for the devices that asked to retry
(`Retry-After`, else the backoff). A copy killed mid-round releases its locks when Postgres
sees the connection close and the round is sent again by another copy: the only way a device
gets the same push twice (with the same `Topic`, so it replaces the first one). After the
commit the outcomes are published.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.notifications import NotificationData
from contracts.push import DeviceKind
from services.push import devices as device_store
from services.push import tables
from services.push.channels import PushChannel, Result, SendResult
from services.push.devices import Device
from services.push.message import PushMessage
from services.push.metrics import Metrics
from services.push.outcomes import FinishedSend, OutcomePublisher

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendPolicy:
    ttl_s: int
    max_attempts: int
    backoff_s: Sequence[float]
    batch: int
    poll_s: float
    max_concurrency: int

    def next_wait(self, attempts: int, retry_after_s: float | None) -> float:
        backoff = self.backoff_s[min(attempts - 1, len(self.backoff_s) - 1)]
        return max(backoff, retry_after_s or 0.0)


class Sender:
    def __init__(
        self,
        engine: AsyncEngine,
        channels: Mapping[DeviceKind, PushChannel],
        policy: SendPolicy,
        metrics: Metrics,
        outcomes: OutcomePublisher | None,
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.policy = policy
        self.metrics = metrics
        self.outcomes = outcomes
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._limit = asyncio.Semaphore(policy.max_concurrency)

    def wake(self) -> None:
        """A push became due now (scheduled by this copy): do not wait for the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="push-sender")

    async def stop(self, grace_s: float = 15.0) -> None:
        """Finish the round under way (bounded), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except TimeoutError:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                claimed = await self.round()
                await self.publish_outcomes()
            except Exception:
                logger.exception("push round failed; trying again")
                claimed = 0
            if claimed >= self.policy.batch or self._stopping:
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.policy.poll_s)
            self._wake.clear()

    async def round(self) -> int:
        """Claim and send the due pushes; returns how many were claimed."""
        pushes = tables.pushes
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(pushes)
                    .where(pushes.c.state == "waiting", pushes.c.due_at <= sa.func.now())
                    .order_by(pushes.c.due_at)
                    .limit(self.policy.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            now = datetime.now(UTC)
            for row in rows:
                self.metrics.timer_lateness.observe(max(0.0, (now - row.due_at).total_seconds()))
            statements = asyncio.Lock()  # one connection runs one statement at a time
            await asyncio.gather(*(self._push(conn, statements, row) for row in rows))
        return len(rows)

    async def _push(self, conn: AsyncConnection, statements: asyncio.Lock, row: Any) -> None:
        """Send one claimed push; its statements take turns on the round's connection while
        the HTTP sends of every push in the round overlap."""
        notification = NotificationData.model_validate(row.notification)
        message = PushMessage.from_notification(notification, row.user_id, self.policy.ttl_s)
        async with statements:
            targets = await self._targets(conn, row.notification_id, row.user_id)
        results = await asyncio.gather(*(self._send(device, message) for device in targets))
        attempts = row.attempts + 1
        waiting_for: list[float] = []
        delivered = 0
        async with statements:
            for device, result in zip(targets, results, strict=True):
                status = await self._record(conn, row, device, result, attempts)
                if status == "pending":
                    waiting_for.append(self.policy.next_wait(attempts, result.retry_after_s))
                delivered += status == "succeeded"
            await self._finish(conn, row, attempts, waiting_for, bool(targets), delivered)

    async def _targets(
        self, conn: AsyncConnection, notification_id: str, user_id: str
    ) -> list[Device]:
        sends = tables.sends
        done = {
            row.device_id
            for row in await conn.execute(
                sa.select(sends.c.device_id).where(
                    sends.c.notification_id == notification_id, sends.c.status != "pending"
                )
            )
        }
        return [d for d in await device_store.devices_of(conn, user_id) if d.id not in done]

    async def _send(self, device: Device, message: PushMessage) -> SendResult:
        channel = self.channels[device.kind]
        async with self._limit:
            with self.metrics.send_seconds.labels(device.kind.value).time():
                result = await channel.send(device, message)
        self.metrics.sends.labels(device.kind.value, result.result.value).inc()
        if result.result is not Result.DELIVERED:
            logger.info(
                "push not delivered",
                extra={
                    "user_id": message.user_id,
                    "notification_id": message.notification_id,
                    "device_id": device.id,
                    "result": result.result.value,
                    "status_code": result.status_code,
                    "detail": result.detail,
                },
            )
        return result

    async def _record(
        self, conn: AsyncConnection, row: Any, device: Device, result: SendResult, attempts: int
    ) -> str:
        now = datetime.now(UTC)
        detail = result.detail
        if result.result is Result.DELIVERED:
            status = "succeeded"
            await device_store.touch(conn, device.id, now)
        elif result.result is Result.GONE:
            status, detail = "failed", f"device removed: {result.detail}"
            await device_store.forget(conn, device.id)
        elif result.result is Result.RETRY and attempts < self.policy.max_attempts:
            status = "pending"
        elif result.result is Result.RETRY:
            status, detail = "failed", f"retries exhausted: {result.detail}"
        else:
            status = "failed"
        sends = tables.sends
        values = {
            "status": status,
            "attempts": attempts,
            "status_code": result.status_code,
            "detail": (detail or "")[:500] or None,
            "updated_at": now,
        }
        await conn.execute(
            insert(sends)
            .values(
                notification_id=row.notification_id,
                device_id=device.id,
                user_id=row.user_id,
                kind=device.kind.value,
                source_event_id=row.event_id,
                **values,
            )
            .on_conflict_do_update(
                index_elements=[sends.c.notification_id, sends.c.device_id], set_=values
            )
        )
        return status

    async def _finish(
        self,
        conn: AsyncConnection,
        row: Any,
        attempts: int,
        waiting_for: list[float],
        had_targets: bool,
        delivered: int,
    ) -> None:
        pushes = tables.pushes
        where = pushes.c.notification_id == row.notification_id
        if waiting_for:
            due = datetime.now(UTC) + timedelta(seconds=max(waiting_for))
            await conn.execute(pushes.update().where(where).values(attempts=attempts, due_at=due))
            return
        state = "sent" if delivered or not had_targets else "failed"
        reason = None if had_targets else "no devices"
        await conn.execute(
            pushes.update()
            .where(where)
            .values(state=state, reason=reason, attempts=attempts, finished_at=sa.func.now())
        )
        self.metrics.pushes.labels(state).inc()

    async def publish_outcomes(self, limit: int = 100) -> int:
        """Publish the outcomes not yet confirmed; returns how many went out."""
        if self.outcomes is None:
            return 0
        sends = tables.sends
        published = 0
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(sends)
                    .where(sends.c.status != "pending", sends.c.outcome_published.is_(False))
                    .order_by(sends.c.updated_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                await self.outcomes.publish(
                    FinishedSend(
                        notification_id=row.notification_id,
                        device_id=row.device_id,
                        user_id=row.user_id,
                        source_event_id=row.source_event_id,
                        succeeded=row.status == "succeeded",
                        attempts=row.attempts,
                        detail=row.detail,
                    )
                )
                await conn.execute(
                    sends.update()
                    .where(
                        sends.c.notification_id == row.notification_id,
                        sends.c.device_id == row.device_id,
                    )
                    .values(outcome_published=True)
                )
                published += 1
        return published
