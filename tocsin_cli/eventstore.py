"""Reading the notification service's event store (`notification.events`) in position order.

The CLI reads it directly, like an operator's SQL would: it never writes there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from contracts.events import EventEnvelope
from database.partitions import partition_filter
from tocsin_cli.errors import CliError

EVENTS_TABLE = "notification.events"


@dataclass(frozen=True)
class EventFilter:
    from_position: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    type: str | None = None
    user: str | None = None
    partition: tuple[int, int] | None = None
    """(this partition, the number of partitions): only that relay partition's events."""

    def where(self, first_param: int = 1) -> tuple[str, list[Any]]:
        """SQL conditions (without WHERE) and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("position >= ${}", self.from_position),
            ("occurred_at >= ${}", self.since),
            ("occurred_at < ${}", self.until),
            ("type = ${}", self.type),
            ("user_id = ${}", self.user),
        ):
            if value is not None:
                params.append(value)
                clauses.append(clause.format(first_param + len(params) - 1))
        if self.partition is not None:
            partition, partitions = self.partition
            params.extend([partitions, partition])
            n = first_param + len(params) - 2
            clauses.append(partition_filter("user_id", f"${n}", f"${n + 1}"))
        return (" AND ".join(clauses) or "TRUE"), params


@dataclass(frozen=True)
class StoredEvent:
    envelope: EventEnvelope
    traceparent: str | None


async def ensure_event_store(connection: asyncpg.Connection) -> set[str]:
    """The columns of the event table; CliError when it does not exist."""
    rows = await connection.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'notification' AND table_name = 'events'"
    )
    if not rows:
        raise CliError(f"event store {EVENTS_TABLE} not found: run `tocsin migrate`")
    return {row["column_name"] for row in rows}


async def count_events(connection: asyncpg.Connection, where: EventFilter) -> tuple[int, int]:
    """(published events matching, events matching that the relay has not published yet)."""
    clause, params = where.where()
    row = await connection.fetchrow(
        f"SELECT count(*) FILTER (WHERE position IS NOT NULL) AS published, "
        f"count(*) FILTER (WHERE position IS NULL) AS pending FROM {EVENTS_TABLE} WHERE {clause}",
        *params,
    )
    assert row is not None
    return int(row["published"]), int(row["pending"])


async def published_events(
    connection: asyncpg.Connection, where: EventFilter, columns: set[str], batch: int = 500
) -> AsyncIterator[StoredEvent]:
    """Published events matching `where`, in position order, read in keyset batches."""
    clause, params = where.where(first_param=2)
    trace_column = ", traceparent" if "traceparent" in columns else ""
    query = (
        "SELECT event_id, type, schema_version, occurred_at, user_id, seq, position, data, stats"
        f"{trace_column} FROM {EVENTS_TABLE} "
        f"WHERE position IS NOT NULL AND position > $1 AND {clause} "
        f"ORDER BY position LIMIT {int(batch)}"
    )
    after = 0
    while True:
        rows = await connection.fetch(query, after, *params)
        for row in rows:
            yield _stored(row)
        if len(rows) < batch:
            return
        after = int(rows[-1]["position"])


def _stored(row: asyncpg.Record) -> StoredEvent:
    data = row["data"]
    stats = row["stats"]
    envelope = EventEnvelope(
        event_id=str(row["event_id"]),
        type=row["type"],
        schema_version=row["schema_version"] or "1.0",
        occurred_at=row["occurred_at"],
        user_id=row["user_id"],
        seq=row["seq"],
        position=row["position"],
        data=json.loads(data) if isinstance(data, str) else dict(data or {}),
        stats=json.loads(stats) if isinstance(stats, str) else stats,
    )
    trace = row["traceparent"] if "traceparent" in row.keys() else None  # noqa: SIM118
    return StoredEvent(envelope, trace)


async def relay_lag(connection: asyncpg.Connection) -> tuple[int, float | None, int | None]:
    """(events not yet published, age in seconds of the oldest one, newest published position)."""
    row = await connection.fetchrow(
        f"SELECT count(*) FILTER (WHERE position IS NULL) AS pending, "
        f"extract(epoch FROM now() - min(occurred_at) FILTER (WHERE position IS NULL)) AS age, "
        f"max(position) AS newest FROM {EVENTS_TABLE}"
    )
    assert row is not None
    age = float(row["age"]) if row["age"] is not None else None
    newest = int(row["newest"]) if row["newest"] is not None else None
    return int(row["pending"]), age, newest
