"""Group commit for creates: concurrent create requests share one recipient look-up and one
write statement (so two round trips per batch instead of per request).

There is no waiting for a batch to fill: a request that arrives while a write slot is free
is written at once; requests that arrive while all slots (4) are busy form the next batch.
Each request stays atomic (all its recipients in the same statement, `creation.py`'s one
write path). A user appears at most once per batch (the streams upsert cannot touch a row
twice), so a request that shares a user with the batch being formed waits for the next one.
If a batch statement fails for any reason other than an unreachable database
(`database.outages.is_outage`), its requests are retried one by one, so one bad request
fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from database.outages import is_outage
from observability.tracing import current_trace
from services.notification import metrics, queries
from services.notification.creation import NewNotification, delivery_for, write_notifications
from services.notification.records import Content, CreatedNotification

logger = logging.getLogger(__name__)

MAX_BATCH_ROWS = 500
MAX_IN_FLIGHT = 4


@dataclass
class _Request:
    content: Content
    users: Sequence[str]
    ids: Sequence[str]
    now: datetime
    traceparent: str | None
    future: asyncio.Future[list[CreatedNotification]] = field(repr=False)


class CreateBatcher:
    """`await batcher.create(...)` from any number of concurrent requests."""

    def __init__(
        self,
        engine: AsyncEngine,
        max_rows: int = MAX_BATCH_ROWS,
        in_flight: int = MAX_IN_FLIGHT,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_commit` is called after each batch commits, before its requests resume: the
        relay's read goes out before the responses are written."""
        self.engine = engine
        self.on_commit = on_commit
        self.max_rows = max_rows
        self._pending: deque[_Request] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(in_flight)
        self._writers: set[asyncio.Task[None]] = set()

    async def create(
        self, content: Content, users: Sequence[str], ids: Sequence[str], now: datetime
    ) -> list[CreatedNotification]:
        """Create one notification per user (distinct); `ids[i]` is the id for `users[i]`."""
        trace = current_trace()
        future: asyncio.Future[list[CreatedNotification]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending.append(
            _Request(content, users, ids, now, trace.traceparent if trace else None, future)
        )
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="create-batcher")
        return await future

    async def close(self) -> None:
        for task in [self._task, *self._writers]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for request in self._pending:
            if not request.future.done():
                request.future.set_exception(RuntimeError("the service is shutting down"))

    async def _run(self) -> None:
        """Form a batch whenever a write slot is free and requests are waiting."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._slots.acquire()
                batch = self._next_batch()
                if not batch:
                    self._slots.release()
                    break
                writer = asyncio.create_task(self._write_in_slot(batch))
                self._writers.add(writer)
                writer.add_done_callback(self._writers.discard)

    async def _write_in_slot(self, batch: list[_Request]) -> None:
        try:
            await self._write(batch)
        finally:
            self._slots.release()

    def _next_batch(self) -> list[_Request]:
        batch: list[_Request] = []
        users: set[str] = set()
        deferred: list[_Request] = []
        while self._pending and len(users) < self.max_rows:
            request = self._pending.popleft()
            if request.future.done():
                continue
            if users.isdisjoint(request.users) and (
                not batch or len(users) + len(request.users) <= self.max_rows
            ):
                batch.append(request)
                users.update(request.users)
            else:
                deferred.append(request)
        self._pending.extendleft(reversed(deferred))
        return batch

    async def _write(self, batch: list[_Request]) -> None:
        try:
            results = await self._execute(batch)
        except Exception as error:
            if len(batch) == 1 or is_outage(error):
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(error)
                return
            logger.warning("batched create failed (%r); retrying its requests alone", error)
            for request in batch:
                await self._write([request])
            return
        self.on_commit()
        for request, created in zip(batch, results, strict=True):
            if not request.future.done():
                request.future.set_result(created)

    async def _execute(self, batch: list[_Request]) -> list[list[CreatedNotification]]:
        async with self.engine.connect() as connection:
            conn = await connection.execution_options(isolation_level="AUTOCOMMIT")
            found = await queries.recipients_by_type(
                conn, [(u, r.content.type) for r in batch for u in r.users]
            )
            rows = [
                NewNotification(
                    id=notification_id,
                    content=request.content,
                    delivery=delivery_for(found[(user, request.content.type)], request.content),
                    created_at=request.now,
                    traceparent=request.traceparent,
                )
                for request in batch
                for user, notification_id in zip(request.users, request.ids, strict=True)
            ]
            metrics.CREATE_BATCH_ROWS.observe(len(rows))
            created = await write_notifications(conn, rows)
        assert created is not None  # None only with an idempotency claim
        results: list[list[CreatedNotification]] = []
        start = 0
        for request in batch:
            results.append(created[start : start + len(request.users)])
            start += len(request.users)
        return results
