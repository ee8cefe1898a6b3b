"""Alembic migrations of the `webhook` schema."""

from __future__ import annotations

from pathlib import Path

from database import migrate

SCHEMA = "webhook"


def upgrade(database_url: str) -> None:
    """Bring the `webhook` schema to the latest revision."""
    migrate.upgrade(Path(__file__).parent, SCHEMA, database_url)
