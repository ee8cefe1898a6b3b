"""Async SQLAlchemy engines from plain `postgresql://` URLs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """`postgresql://...` → `postgresql+asyncpg://...` (other forms pass through)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def plain_url(url: str) -> str:
    """The asyncpg/libpq form of a URL: no `+driver` part."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    command_timeout_s: float = 10.0,
    application_name: str = "tocsin",
    pre_ping: bool = True,
) -> AsyncEngine:
    """An engine whose queries fail after `command_timeout_s` instead of hanging.

    `pre_ping=False` saves a round trip per checkout for hot paths; a dead pooled connection
    then fails one statement (and is discarded) instead of being replaced up front."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_timeout=command_timeout_s,
        # Parameters carry secrets (webhook `whsec_` keys, emails): never in errors or logs.
        hide_parameters=True,
        connect_args={
            "command_timeout": command_timeout_s,
            "timeout": command_timeout_s,
            "server_settings": {"application_name": application_name},
        },
    )
