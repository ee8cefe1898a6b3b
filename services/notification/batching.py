"""Group commit for creates: concurrent create requests share one recipient look-up and one
write statement (so two round trips per batch instead of per request).

There is no waiting for a batch to fill: a request that arrives while a write slot is free
is written at once; requests that arrive while all slots (4) are busy form the next batch.
Each request stays atomic (all its recipients in the same statement). A user appears at
most once per batch (the streams upsert cannot touch a row twice), so a request that shares a
user with the batch being formed waits for the next one. If a batch statement fails for any
reason other than an unreachable database, its requests are retried one by one, so one bad
request fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import SCHEMA_VERSION
from contracts.notifications import Priority
from observability.tracing import current_trace
from services.notification import metrics, queries
from services.notification.preferences import resolve_channels
from services.notification.records import Content, CreatedNotification, notification_dict

logger = logging.getLogger(__name__)

MAX_BATCH_ROWS = 500
MAX_IN_FLIGHT = 4

_UNREAD_BY_PRIORITY = ", ".join(f"(priority = '{p.value}')::int" for p in Priority)
_ADD_UNREAD = ", ".join(
    f"unread_{p.value} = s.unread_{p.value} + EXCLUDED.unread_{p.value}" for p in Priority
)
_COLUMNS = (
    "users",
    "ids",
    "event_ids",
    "datas",
    "types",
    "priorities",
    "titles",
    "messages",
    "entity_types",
    "entity_ids",
    "entity_urls",
    "created_ats",
    "traceparents",
)

_WRITE = text(
    f"""
WITH input AS (
    SELECT * FROM unnest(
        CAST(:users AS text[]), CAST(:ids AS uuid[]), CAST(:event_ids AS uuid[]),
        CAST(:datas AS text[]), CAST(:types AS text[]), CAST(:priorities AS text[]),
        CAST(:titles AS text[]), CAST(:messages AS text[]), CAST(:entity_types AS text[]),
        CAST(:entity_ids AS text[]), CAST(:entity_urls AS text[]),
        CAST(:created_ats AS timestamptz[]), CAST(:traceparents AS text[])
    ) AS t(user_id, id, event_id, data, type, priority, title, message, entity_type,
           entity_id, entity_url, created_at, traceparent)
),
s AS (
    INSERT INTO notification.user_streams AS s
        (user_id, last_seq, total, unread, unread_low, unread_normal, unread_high,
         unread_critical)
    SELECT user_id, 1, 1, 1, {_UNREAD_BY_PRIORITY} FROM input ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET
        last_seq = s.last_seq + 1, total = s.total + 1, unread = s.unread + 1, {_ADD_UNREAD}
    RETURNING s.*
),
n AS (
    INSERT INTO notification.notifications
        (id, user_id, type, priority, title, message, entity_type, entity_id, entity_url,
         is_read, created_at)
    SELECT id, user_id, type, priority, title, message, entity_type, entity_id, entity_url,
           false, created_at
    FROM input
)
INSERT INTO notification.events
    (event_id, type, schema_version, occurred_at, user_id, seq, data, stats, traceparent)
SELECT i.event_id, 'notification.created', :schema_version, i.created_at, s.user_id,
       s.last_seq, CAST(i.data AS jsonb),
       jsonb_build_object(
           'total', s.total, 'unread', s.unread,
           'unread_by_priority', jsonb_build_object(
               'low', s.unread_low, 'normal', s.unread_normal, 'high', s.unread_high,
               'critical', s.unread_critical)),
       i.traceparent
FROM s JOIN input AS i ON i.user_id = s.user_id
RETURNING user_id, seq
"""
)


@dataclass
class _Request:
    content: Content
    users: Sequence[str]
    ids: Sequence[str]
    now: datetime
    traceparent: str | None
    future: asyncio.Future[list[CreatedNotification]] = field(repr=False)


def _unavailable(error: BaseException) -> bool:
    return isinstance(
        error,
        sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError | OSError,
    ) or bool(getattr(error, "connection_invalidated", False))


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
            if len(batch) == 1 or _unavailable(error):
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
        columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
        async with self.engine.connect() as connection:
            conn = await connection.execution_options(isolation_level="AUTOCOMMIT")
            found = await queries.recipients_by_type(
                conn, [(u, r.content.type) for r in batch for u in r.users]
            )
            event_ids: list[list[str]] = []
            for request in batch:
                c = request.content
                event_ids.append([str(uuid.uuid4()) for _ in request.users])
                for user, notification_id, event_id in zip(
                    request.users, request.ids, event_ids[-1], strict=True
                ):
                    recipient = found[(user, c.type)]
                    data = {
                        "notification": notification_dict(notification_id, c, request.now),
                        "recipient": {
                            "user_id": user,
                            "email": recipient.email,
                            "name": recipient.name,
                            "locale": recipient.locale,
                        },
                        "channels": [
                            ch.value
                            for ch in resolve_channels(c.type, c.priority, recipient.preferences)
                        ],
                    }
                    for name, value in (
                        ("users", user),
                        ("ids", notification_id),
                        ("event_ids", event_id),
                        ("datas", orjson.dumps(data, option=orjson.OPT_UTC_Z).decode()),
                        ("types", c.type),
                        ("priorities", c.priority.value),
                        ("titles", c.title),
                        ("messages", c.message),
                        ("entity_types", c.entity_type),
                        ("entity_ids", c.entity_id),
                        ("entity_urls", c.entity_url),
                        ("created_ats", request.now),
                        ("traceparents", request.traceparent),
                    ):
                        columns[name].append(value)
            metrics.CREATE_BATCH_ROWS.observe(len(columns["users"]))
            rows = await conn.execute(_WRITE, {**columns, "schema_version": SCHEMA_VERSION})
            seq_of = {row.user_id: row.seq for row in rows.all()}
        return [
            [
                CreatedNotification(id=i, user_id=u, seq=seq_of[u], event_id=e)
                for u, i, e in zip(request.users, request.ids, ids, strict=True)
            ]
            for request, ids in zip(batch, event_ids, strict=True)
        ]
