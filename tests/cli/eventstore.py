"""Rows in the notification service's event store, written the way its relay leaves them."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from contracts.events import EventType


@dataclass
class Stored:
    event_id: str
    type: str
    user_id: str
    position: int | None


class EventStore:
    """Rows in notification.events as the notification service writes them."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.moment = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(
            minutes=random.randrange(0, 500_000)
        )
        self.seq: dict[str, int] = {}
        self.added: list[str] = []

    async def add(
        self,
        type_: EventType,
        user_id: str,
        *,
        published: bool = True,
        minutes: int = 0,
        data: dict[str, object] | None = None,
    ) -> Stored:
        self.seq[user_id] = self.seq.get(user_id, 0) + 1
        event_id = str(uuid.uuid4())
        if data is None:
            data = {"id": event_id} if type_ != EventType.NOTIFICATION_CREATED else {"x": 1}
        connection = await asyncpg.connect(self.url)
        try:
            position = await connection.fetchval(
                """
                INSERT INTO notification.events
                    (event_id, type, schema_version, occurred_at, user_id, seq, data, stats,
                     position, published_at)
                VALUES ($1, $2, '1.0', $3, $4, $5, $6::jsonb, NULL,
                        CASE WHEN $7 THEN (SELECT coalesce(max(position), 0) + 1
                                           FROM notification.events) END,
                        CASE WHEN $7 THEN now() END)
                RETURNING position
                """,
                event_id,
                type_.value,
                self.moment + timedelta(minutes=minutes),
                user_id,
                self.seq[user_id],
                json.dumps(data),
                published,
            )
        finally:
            await connection.close()
        self.added.append(event_id)
        return Stored(event_id, type_.value, user_id, position)

    async def add_many(self, type_: EventType, user_id: str, count: int) -> int:
        """`count` published events for one user at once (COPY), positions after the newest."""
        connection = await asyncpg.connect(self.url)
        try:
            async with connection.transaction():
                await connection.execute("LOCK TABLE notification.events IN EXCLUSIVE MODE")
                newest = await connection.fetchval(
                    "SELECT coalesce(max(position), 0) FROM notification.events"
                )
                first_seq = self.seq.get(user_id, 0) + 1
                ids = [str(uuid.uuid4()) for _ in range(count)]
                await connection.copy_records_to_table(
                    "events",
                    schema_name="notification",
                    columns=[
                        "event_id", "type", "schema_version", "occurred_at", "user_id", "seq",
                        "data", "position", "published_at",
                    ],
                    records=[
                        (i, type_.value, "1.0", self.moment, user_id, first_seq + n,
                         json.dumps({"x": n}), newest + 1 + n, self.moment)
                        for n, i in enumerate(ids)
                    ],
                )  # fmt: skip
        finally:
            await connection.close()
        self.seq[user_id] = first_seq + count - 1
        self.added.extend(ids)
        return count

    async def remove_added(self) -> None:
        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(
                "DELETE FROM notification.events WHERE event_id = ANY($1::uuid[])", self.added
            )
        finally:
            await connection.close()

    def window(self, before: int = 0, after: int = 60) -> list[str]:
        since = self.moment - timedelta(minutes=before)
        until = self.moment + timedelta(minutes=after)
        return ["--since", since.isoformat(), "--until", until.isoformat()]
