"""Alembic migrations of the `notification` schema."""

from __future__ import annotations

from pathlib import Path

from database import migrate

SCHEMA = "notification"


def upgrade(database_url: str) -> None:
    """Bring the `notification` schema of `database_url` up to the latest revision."""
    migrate.upgrade(Path(__file__).parent, SCHEMA, database_url)
