"""What an administrator changed on someone else's endpoint, kept for the endpoint's owner.

A caller with `webhooks:admin` may change any endpoint's URL, event types, description or
state and rotate its secret. Each such change to an endpoint the administrator does not own is
recorded in the same transaction as the change itself, so the owner always learns of it from
`GET /api/v1/webhooks/endpoints/{id}/changes`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.webhook import tables


class EndpointChange(BaseModel):
    changed_by: str
    change: str
    at: datetime


def needs_record(owner: str | None, actor: str) -> bool:
    """Whether a change by `actor` is reported to the endpoint's owner (global endpoints have
    none; an owner's own changes are not reported to them)."""
    return owner is not None and owner != actor


async def record(conn: AsyncConnection, endpoint_id: str, actor: str, change: str) -> None:
    await conn.execute(
        tables.endpoint_changes.insert().values(
            endpoint_id=endpoint_id, changed_by=actor, change=change
        )
    )


async def recent(engine: AsyncEngine, endpoint_id: str, limit: int) -> list[EndpointChange]:
    """The endpoint's most recent administrator changes, newest first."""
    c = tables.endpoint_changes
    query = sa.select(c).where(c.c.endpoint_id == endpoint_id).order_by(c.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        return [
            EndpointChange(changed_by=row.changed_by, change=row.change, at=row.at)
            for row in await conn.execute(query)
        ]
