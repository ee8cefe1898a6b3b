"""Reading the incident projection: who may see an incident, its state, its timeline.

Access rule (the same for `GET /api/v1/incidents/{id}` and for subscribing to channel
`incident:<id>`): the people any of the incident's events named, and callers with the admin
scope. Anyone else, and an incident that does not exist, get `IncidentNotFound` (404): the
answer never tells a stranger that the incident exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.notification.errors import IncidentNotFound

TIMELINE_MAX = 1000
"""The most timeline entries `incident` returns (the newest ones)."""

_HEAD = text(
    """
SELECT last_seq, state::text AS state FROM notification.incidents
WHERE incident_id = :id AND last_seq > 0 AND (:anyone OR :user_id = ANY(participants))
"""
)

_AFTER = text(
    """
SELECT seq, update::text AS update FROM notification.incident_timeline
WHERE incident_id = :id AND seq > :after ORDER BY seq LIMIT :limit
"""
)

_NEWEST = text(
    """
SELECT seq, update::text AS update FROM notification.incident_timeline
WHERE incident_id = :id ORDER BY seq DESC LIMIT :limit
"""
)


@dataclass(frozen=True)
class UpdatesPage:
    updates: list[dict[str, Any]]
    latest_seq: int
    complete: bool


async def _head(conn: AsyncConnection, incident_id: str, user_id: str | None) -> Any:
    row = (
        await conn.execute(
            _HEAD, {"id": incident_id, "anyone": user_id is None, "user_id": user_id or ""}
        )
    ).first()
    if row is None:
        raise IncidentNotFound("no such incident for this caller")
    return row


async def incident(engine: AsyncEngine, incident_id: str, user_id: str | None) -> dict[str, Any]:
    """State, latest seq and timeline (oldest first, the newest `TIMELINE_MAX`) of an incident
    `user_id` may see (None: any, for admins). Raises IncidentNotFound."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        head = await _head(conn, incident_id, user_id)
        rows = (await conn.execute(_NEWEST, {"id": incident_id, "limit": TIMELINE_MAX})).all()
    timeline = [orjson.loads(r.update) for r in reversed(rows)]
    return {"incident": orjson.loads(head.state), "seq": head.last_seq, "timeline": timeline}


async def updates_after(
    engine: AsyncEngine, incident_id: str, user_id: str | None, after_seq: int | None, limit: int
) -> UpdatesPage:
    """The incident's updates with `seq > after_seq` (none when None), in seq order, at most
    `limit`, and its latest seq, in one snapshot; `complete` is false when more follow.
    Raises IncidentNotFound when `user_id` (None: anyone) may not see the incident."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        head = await _head(conn, incident_id, user_id)
        if after_seq is None or after_seq >= head.last_seq:
            return UpdatesPage([], head.last_seq, True)
        params = {"id": incident_id, "after": after_seq, "limit": limit + 1}
        rows = (await conn.execute(_AFTER, params)).all()
    updates = [orjson.loads(r.update) for r in rows[:limit]]
    return UpdatesPage(updates, head.last_seq, len(rows) <= limit)
