"""Alembic migrations of the `push` schema."""

from __future__ import annotations

from pathlib import Path

from database import migrate

SCHEMA = "push"


def upgrade(database_url: str) -> None:
    """Bring the `push` schema to the latest revision."""
    migrate.upgrade(Path(__file__).parent, SCHEMA, database_url)
