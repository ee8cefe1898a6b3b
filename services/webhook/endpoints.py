"""Endpoint registration: the service layer behind `/api/v1/webhooks/endpoints`.

A user manages the endpoints scoped to them; a caller holding `webhooks:admin` manages global
endpoints and endpoints of others, and may act on any endpoint (each change to someone else's
endpoint is recorded for its owner, see `audit`). `notifications:write` grants nothing here.
The secret is returned once, at registration and at each rotation.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import NOTIFICATION_EVENT_TYPES, EventType
from contracts.text import StorableText
from outbound.addresses import (
    BlockedAddress,
    InvalidWebhookUrl,
    PrivateTargets,
    default_port,
    resolve_checked,
    validate_url,
)
from services.webhook import audit, tables
from services.webhook.signing import generate_secret

SUBSCRIBABLE_TYPES: frozenset[str] = frozenset(
    {"*", "notification.*", EventType.NOTIFICATION_BROADCAST.value}
    | {t.value for t in NOTIFICATION_EVENT_TYPES}
)
REGISTRATION_DNS_TIMEOUT_S = 3.0
URL_MAX = 2048


class EndpointError(Exception):
    """Base of the registration errors; `code` is stable and shown to clients."""

    code = "webhook_error"


class EndpointNotFound(EndpointError):
    code = "endpoint_not_found"


class Forbidden(EndpointError):
    code = "forbidden"


class UrlNotAllowed(EndpointError):
    code = "url_not_allowed"


class InvalidUrl(EndpointError):
    code = "invalid_url"


class TooManyEndpoints(EndpointError):
    """The owner already has `WEBHOOK_MAX_ENDPOINTS_PER_USER` endpoints."""

    code = "too_many_endpoints"


ENDPOINT_COUNT_LOCK = 0x7765_6268
"""Advisory lock class of the per-owner endpoint count (with the owner's hash as object id)."""


@dataclass(frozen=True)
class Caller:
    user_id: str
    is_admin: bool
    """Holds `webhooks:admin`."""


def _check_types(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - SUBSCRIBABLE_TYPES)
    if unknown:
        raise ValueError(f"unknown event types {unknown}; use {sorted(SUBSCRIBABLE_TYPES)}")
    return list(dict.fromkeys(value))


class RegisterEndpoint(BaseModel):
    url: StorableText = Field(max_length=URL_MAX)
    event_types: list[str] = Field(
        default_factory=lambda: [EventType.NOTIFICATION_CREATED.value], min_length=1
    )
    scope: Literal["user", "global"] = "user"
    user_id: StorableText | None = Field(
        default=None, max_length=255, description="Owner of a user-scoped endpoint (services)."
    )
    description: StorableText | None = Field(default=None, max_length=500)
    enabled: bool = True

    _types = field_validator("event_types")(_check_types)


class UpdateEndpoint(BaseModel):
    url: StorableText | None = Field(default=None, max_length=URL_MAX)
    event_types: list[str] | None = Field(default=None, min_length=1)
    description: StorableText | None = Field(default=None, max_length=500)
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_types(value)


class Endpoint(BaseModel):
    id: str
    url: str
    event_types: list[str]
    scope: Literal["user", "global"]
    user_id: str | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class Attempt(BaseModel):
    event_id: str
    attempt: int
    result: str
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None
    at: datetime


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        event_types=list(row.event_types),
        scope="global" if row.user_id is None else "user",
        user_id=row.user_id,
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def check_url(url: str, targets: PrivateTargets) -> str:
    """Refuse URLs that can never be delivered to; raises InvalidUrl or UrlNotAllowed.

    A host that does not resolve right now is accepted: delivery checks again at connect time.
    """
    try:
        validate_url(url, targets)
        async with asyncio.timeout(REGISTRATION_DNS_TIMEOUT_S):
            host = urlsplit(url).hostname or ""
            await resolve_checked(host, default_port(url), targets)
    except InvalidWebhookUrl as exc:
        raise InvalidUrl(str(exc)) from exc
    except BlockedAddress as exc:
        raise UrlNotAllowed(f"webhooks may not target {exc}") from exc
    except (OSError, TimeoutError):
        pass
    return url


async def register(
    engine: AsyncEngine,
    caller: Caller,
    command: RegisterEndpoint,
    targets: PrivateTargets,
    max_per_user: int,
) -> tuple[Endpoint, str]:
    """Store a new endpoint; returns it with its secret (shown only now).

    Raises Forbidden for a global endpoint or a user endpoint for someone else without
    `webhooks:admin`, InvalidUrl / UrlNotAllowed for a URL that cannot be delivered to,
    TooManyEndpoints when the owner already has `max_per_user` endpoints (concurrent
    registrations for one owner are serialised, so the cap holds under a burst).
    """
    if command.scope == "global":
        if not caller.is_admin:
            raise Forbidden("global endpoints need the webhooks:admin scope")
        owner = None
    else:
        owner = command.user_id or caller.user_id
        if owner != caller.user_id and not caller.is_admin:
            raise Forbidden("you can only register endpoints for yourself")
    await check_url(command.url, targets)
    secret = generate_secret()
    async with engine.begin() as conn:
        if owner is not None:
            await _check_count(conn, owner, max_per_user)
        row = (
            await conn.execute(
                tables.endpoints.insert()
                .values(
                    id=str(uuid.uuid4()),
                    url=command.url,
                    event_types=command.event_types,
                    user_id=owner,
                    secret=secret,
                    description=command.description,
                    enabled=command.enabled,
                    created_by=caller.user_id,
                )
                .returning(*tables.endpoints.c)
            )
        ).one()
    return _endpoint(row), secret


async def _check_count(conn: AsyncConnection, owner: str, max_per_user: int) -> None:
    lock = sa.func.pg_advisory_xact_lock(ENDPOINT_COUNT_LOCK, sa.func.hashtext(owner))
    await conn.execute(sa.select(lock))
    count = await conn.scalar(sa.select(sa.func.count()).where(tables.endpoints.c.user_id == owner))
    if (count or 0) >= max_per_user:
        raise TooManyEndpoints(
            f"{owner} already has {count} webhook endpoints (at most {max_per_user})"
        )


def _visible(caller: Caller) -> sa.ColumnElement[bool]:
    if caller.is_admin:
        return sa.true()
    return tables.endpoints.c.user_id == caller.user_id


async def list_endpoints(engine: AsyncEngine, caller: Caller) -> list[Endpoint]:
    query = (
        sa.select(tables.endpoints)
        .where(_visible(caller))
        .order_by(tables.endpoints.c.created_at, tables.endpoints.c.id)
    )
    async with engine.connect() as conn:
        return [_endpoint(row) for row in await conn.execute(query)]


async def get_endpoint(engine: AsyncEngine, caller: Caller, endpoint_id: str) -> Endpoint:
    """Raises EndpointNotFound when it does not exist or the caller may not see it."""
    query = sa.select(tables.endpoints).where(
        tables.endpoints.c.id == endpoint_id, _visible(caller)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    if row is None:
        raise EndpointNotFound(f"no endpoint {endpoint_id}")
    return _endpoint(row)


async def update_endpoint(
    engine: AsyncEngine,
    caller: Caller,
    endpoint_id: str,
    changes: UpdateEndpoint,
    targets: PrivateTargets,
) -> Endpoint:
    """Apply the given changes. Enabling an endpoint clears why it was disabled and its
    failure streak. Raises EndpointNotFound, InvalidUrl, UrlNotAllowed."""
    values: dict[str, Any] = changes.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in values:
        await check_url(values["url"], targets)
    if values.get("enabled") is True:
        values.update(disabled_reason=None, failing_since=None)
    elif values.get("enabled") is False:
        values["disabled_reason"] = "disabled by a user"
    values["updated_at"] = sa.func.now()
    statement = (
        tables.endpoints.update()
        .where(tables.endpoints.c.id == endpoint_id, _visible(caller))
        .values(**values)
        .returning(*tables.endpoints.c)
    )
    async with engine.begin() as conn:
        row = (await conn.execute(statement)).one_or_none()
        if row is None:
            raise EndpointNotFound(f"no endpoint {endpoint_id}")
        changed = changes_made(values)
        if changed and audit.needs_record(row.user_id, caller.user_id):
            await audit.record(conn, endpoint_id, caller.user_id, "changed " + ", ".join(changed))
    return _endpoint(row)


def changes_made(values: dict[str, Any]) -> list[str]:
    """The fields a user asked to change, as the owner is told of them (a new URL is shown)."""
    shown = []
    for name in ("url", "event_types", "description", "enabled"):
        if name == "url" and "url" in values:
            shown.append(f"url to {values['url']}")
        elif name in values:
            shown.append(name)
    return shown


async def rotate_secret(
    engine: AsyncEngine, caller: Caller, endpoint_id: str, grace: timedelta
) -> str:
    """Give the endpoint a new secret and return it (shown only now). Deliveries are signed
    with both the new and the previous secret until `grace` has passed, so the receiver can
    switch without losing a delivery. Raises EndpointNotFound."""
    e = tables.endpoints
    secret = generate_secret()
    statement = (
        e.update()
        .where(e.c.id == endpoint_id, _visible(caller))
        .values(
            secret=secret,
            previous_secret=e.c.secret,
            previous_secret_expires_at=sa.func.now() + grace,
            updated_at=sa.func.now(),
        )
        .returning(e.c.id, e.c.user_id)
    )
    async with engine.begin() as conn:
        row = (await conn.execute(statement)).one_or_none()
        if row is None:
            raise EndpointNotFound(f"no endpoint {endpoint_id}")
        if audit.needs_record(row.user_id, caller.user_id):
            await audit.record(conn, endpoint_id, caller.user_id, "rotated the secret")
    return secret


async def delete_endpoint(engine: AsyncEngine, caller: Caller, endpoint_id: str) -> None:
    """Delete an endpoint with its delivery history. Raises EndpointNotFound."""
    statement = tables.endpoints.delete().where(
        tables.endpoints.c.id == endpoint_id, _visible(caller)
    )
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    if result.rowcount == 0:
        raise EndpointNotFound(f"no endpoint {endpoint_id}")


async def list_attempts(
    engine: AsyncEngine, caller: Caller, endpoint_id: str, limit: int = 50
) -> list[Attempt]:
    """The endpoint's most recent attempts, newest first. Raises EndpointNotFound."""
    await get_endpoint(engine, caller, endpoint_id)
    a = tables.attempts
    query = sa.select(a).where(a.c.endpoint_id == endpoint_id).order_by(a.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = await conn.execute(query)
        return [
            Attempt(
                event_id=row.event_id,
                attempt=row.attempt,
                result=row.result,
                status_code=row.status_code,
                duration_ms=row.duration_ms,
                error=row.error,
                response_excerpt=row.response_excerpt,
                at=row.at,
            )
            for row in rows
        ]


async def list_changes(
    engine: AsyncEngine, caller: Caller, endpoint_id: str, limit: int = 50
) -> list[audit.EndpointChange]:
    """What administrators changed on the endpoint, newest first. Raises EndpointNotFound."""
    await get_endpoint(engine, caller, endpoint_id)
    return await audit.recent(engine, endpoint_id, limit)
