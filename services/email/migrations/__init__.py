"""Migrations of the email consumer's schema `email`."""

from __future__ import annotations

from pathlib import Path

from database import migrate

SCHEMA = "email"


def upgrade(database_url: str) -> None:
    """Bring schema `email` to the latest revision (run once per deploy, not concurrently)."""
    migrate.upgrade(Path(__file__).parent, SCHEMA, database_url)
