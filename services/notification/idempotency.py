"""Idempotency keys: the same key with the same body gets the first response again; the same
key with a different body is refused. Keys are scoped to the caller (the token's `sub`) and
expire `ttl` after first use: an expired key is new again, and `purge_expired` (run
periodically by the API's housekeeping worker) deletes expired rows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notification import tables
from services.notification.errors import IdempotencyKeyReused

KEY_MAX = 255
DEFAULT_TTL = timedelta(hours=24)
PURGE_BATCH = 10_000
k = tables.idempotency_keys


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def find(
    conn: AsyncConnection, caller: str, key: str, body_hash: str, ttl: timedelta = DEFAULT_TTL
) -> StoredResponse | None:
    """The response first given for this key, or None if the key is new (or expired: then
    its row is deleted, so the caller's `save` can claim the key again).

    Raises IdempotencyKeyReused when the key was used with a different body."""
    await conn.execute(
        delete(k).where(k.c.caller == caller, k.c.key == key, k.c.created_at < func.now() - ttl)
    )
    row = (
        await conn.execute(
            select(k.c.request_hash, k.c.status_code, k.c.response).where(
                k.c.caller == caller, k.c.key == key
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request body"
        )
    return StoredResponse(status_code=row.status_code, body=row.response)


async def save(
    conn: AsyncConnection,
    caller: str,
    key: str,
    body_hash: str,
    response: StoredResponse,
) -> bool:
    """Record the response in the caller's transaction. False when a concurrent request with
    the same key got there first (the caller must roll back and `find` again)."""
    result = await conn.execute(
        insert(k)
        .values(
            caller=caller,
            key=key,
            request_hash=body_hash,
            status_code=response.status_code,
            response=response.body,
            created_at=func.now(),
        )
        .on_conflict_do_nothing()
        .returning(k.c.key)
    )
    return result.first() is not None


async def purge_expired(conn: AsyncConnection, ttl: timedelta, batch: int = PURGE_BATCH) -> int:
    """Delete up to `batch` keys older than `ttl`; returns how many went (call again while it
    returns `batch`)."""
    expired = select(k.c.caller, k.c.key).where(k.c.created_at < func.now() - ttl).limit(batch)
    result = await conn.execute(delete(k).where(tuple_(k.c.caller, k.c.key).in_(expired)))
    return int(result.rowcount or 0)
