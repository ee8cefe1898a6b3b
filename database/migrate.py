"""Runs a service's Alembic migrations against its own schema.

Each service keeps an Alembic folder whose `env.py` calls `run_migrations_from_alembic()`;
`upgrade(script_location, schema, url)` applies them. The version table lives in the
service's schema, so services migrate independently.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from database.engine import async_url


def upgrade(script_location: Path, schema: str, url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`. Safe to run concurrently with itself? No: run once
    per deploy (the run command and the tests do)."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", async_url(url))
    config.attributes["tocsin_schema"] = schema
    command.upgrade(config, revision)


def run_migrations_from_alembic() -> None:
    """Body of a service's alembic `env.py` (online mode, asyncpg)."""
    config = context.config
    schema = config.attributes["tocsin_schema"]
    url = config.get_main_option("sqlalchemy.url")
    assert url

    def do_run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            version_table_schema=schema,
            include_schemas=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool, hide_parameters=True)
        async with engine.begin() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())
