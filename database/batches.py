"""Deleting many rows without one long transaction: in batches, each committed on its own."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

BATCH = 5_000


async def delete_in_batches(
    engine: AsyncEngine, table: sa.Table, condition: sa.ColumnElement[bool], batch: int = BATCH
) -> int:
    """Delete the rows of `table` matching `condition`, `batch` rows per transaction, so
    no lock is held long; returns how many went."""
    ctid: sa.ColumnClause[Any] = sa.literal_column("ctid")
    chosen = sa.select(ctid).select_from(table).where(condition).limit(batch)
    statement = table.delete().where(ctid.in_(chosen.scalar_subquery()))
    total = 0
    while True:
        async with engine.begin() as conn:
            deleted = (await conn.execute(statement)).rowcount
        total += deleted
        if deleted < batch:
            return total
